import pytest
import torch

from robopolicy.core import ChunkSpec, ObsSpec, ShapeMeta


def test_chunk_spec_executed_slice_starts_at_current_step():
    spec = ChunkSpec(obs_horizon=2, pred_horizon=16, action_horizon=8)
    full = torch.arange(16)
    assert full[spec.executed].tolist() == list(range(1, 9))


def test_chunk_spec_rejects_slice_past_prediction():
    with pytest.raises(ValueError, match="exceeds pred_horizon"):
        ChunkSpec(obs_horizon=3, pred_horizon=8, action_horizon=7)


@pytest.mark.parametrize("field", ["obs_horizon", "pred_horizon", "action_horizon"])
def test_chunk_spec_rejects_non_positive(field):
    kwargs = {"obs_horizon": 2, "pred_horizon": 8, "action_horizon": 4, field: 0}
    with pytest.raises(ValueError, match=field):
        ChunkSpec(**kwargs)


def test_chunk_spec_dict_round_trip():
    spec = ChunkSpec(1, 10, 5)
    assert ChunkSpec.from_dict(spec.to_dict()) == spec


def test_shape_meta_orders_keys_and_round_trips(image_meta):
    assert image_meta.low_dim_keys == ["agent_pos"]
    assert image_meta.rgb_keys == ["overhead_image"]
    assert image_meta.low_dim_size == 2
    assert ShapeMeta.from_dict(image_meta.to_dict()) == image_meta


def test_obs_spec_validates_shapes():
    with pytest.raises(ValueError, match="rgb"):
        ObsSpec((3, 24, 24), "rgb")
    with pytest.raises(ValueError, match="flat"):
        ObsSpec((2, 2))
    with pytest.raises(ValueError, match="type"):
        ObsSpec((2,), "depth")
