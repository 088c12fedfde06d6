"""The MLP denoiser's inference path (step table) computes the same function as its training path."""

import pytest
import torch

from robopolicy.nets.mlp import ResidualMLPDenoiser


def _net(per_position: bool) -> ResidualMLPDenoiser:
    torch.manual_seed(0)
    net = ResidualMLPDenoiser(2, 6, 10, hidden=32, depth=2, step_embed_dim=8, per_position_steps=per_position)
    for p in net.parameters():  # FiLM starts at zero; random weights make every input matter
        torch.nn.init.normal_(p, std=0.2)
    return net.eval()


def _inputs(per_position: bool, high: int = 100):
    g = torch.Generator().manual_seed(1)
    steps = torch.randint(0, high, (4, 6) if per_position else (4,), generator=g)
    return torch.randn(4, 6, 2, generator=g), steps, torch.randn(4, 10, generator=g)


@pytest.mark.parametrize("per_position", [False, True])
def test_tabulated_steps_match_the_step_encoder(per_position):
    net = _net(per_position)
    x, steps, cond = _inputs(per_position)
    direct = net(x, steps, cond)  # gradients on: the step encoder runs
    with torch.no_grad():
        tabulated = net(x, steps, cond)
    assert net._step_table is not None  # the no-grad call used the table
    torch.testing.assert_close(tabulated, direct, atol=1e-5, rtol=1e-5)
    steps[0] = 1  # one position (or sample) moved to another step changes the output, as it should
    with torch.no_grad():
        assert not torch.allclose(net(x, steps, cond), tabulated)


def test_the_table_follows_new_weights_and_larger_steps():
    net = _net(True)
    x, steps, cond = _inputs(True, high=10)
    with torch.no_grad():
        net(x, steps, cond)
        assert net._step_table.shape[1] == int(steps.max()) + 1
        other = _net(True)
        for p in other.parameters():
            p.data.mul_(-1.5)
        net.load_state_dict(other.state_dict())  # in-place copy: the table must not survive it
        after_load = net(x, steps, cond)
        larger = steps + 50
        after_larger = net(x, larger, cond)
    torch.testing.assert_close(after_load, other(x, steps, cond), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(after_larger, other(x, larger, cond), atol=1e-5, rtol=1e-5)
    assert net._step_table.shape[1] == int(larger.max()) + 1
