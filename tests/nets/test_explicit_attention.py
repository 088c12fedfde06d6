"""The explicit attention the energy network uses computes PyTorch's attention, to second order."""

import pytest
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from robopolicy.nets.transformer import explicit_attention


def _second_order(attention, q, k, v):
    """Output, d(sum out * w)/dq with its graph, and the gradient of that gradient's square w.r.t. (q, k, v)."""
    out = attention(q, k, v)
    weights = torch.linspace(-1.0, 1.0, out.numel(), dtype=out.dtype).view_as(out)
    (grad_q,) = torch.autograd.grad((out * weights).sum(), q, create_graph=True)
    return out, grad_q, torch.autograd.grad(grad_q.pow(2).sum(), (q, k, v))


@pytest.mark.parametrize("causal", [False, True])
def test_explicit_attention_matches_scaled_dot_product_attention_through_a_double_backward(causal):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(3, 2, 6, 8, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3))
    mask = torch.tril(torch.ones(6, 6, dtype=torch.bool)) if causal else None

    def reference(q, k, v):
        with sdpa_kernel(SDPBackend.MATH):
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    expected = _second_order(reference, q, k, v)
    got = _second_order(lambda q, k, v: explicit_attention(q, k, v, mask), q, k, v)
    torch.testing.assert_close(got[0], expected[0])
    torch.testing.assert_close(got[1], expected[1])
    for a, b in zip(got[2], expected[2]):
        torch.testing.assert_close(a, b)
    if causal:  # the first query sees only the first key
        torch.testing.assert_close(got[0][:, :, 0], v[:, :, 0])


def test_explicit_attention_is_shift_invariant_for_large_scores():
    """The max is subtracted before exp, so scores of 1e4 neither overflow nor change the result."""
    q = torch.full((1, 1, 2, 4), 100.0)
    k = torch.stack([torch.full((4,), 100.0), torch.full((4,), 99.0)]).view(1, 1, 2, 4)
    v = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).view(1, 1, 2, 2)
    out = explicit_attention(q, k, v)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))
