import numpy as np
import pytest
import torch

from robopolicy.core import Normalizer


def _data(rng):
    return {
        "agent_pos": rng.uniform(-0.2, 0.3, size=(100, 2)),
        "object": np.concatenate([rng.normal(size=(100, 3)), np.full((100, 1), 0.7)], axis=1),  # last dim constant
        "action": rng.uniform(-0.24, 0.24, size=(100, 2)),
    }


def test_min_max_maps_training_range_to_minus_one_one(low_dim_meta):
    data = _data(np.random.default_rng(0))
    norm = Normalizer.fit(low_dim_meta, data)
    for key in ("agent_pos", "action"):
        x = norm.normalize(key, torch.as_tensor(data[key], dtype=torch.float32))
        assert torch.allclose(x.min(0).values, torch.full((2,), -1.0), atol=1e-5)
        assert torch.allclose(x.max(0).values, torch.full((2,), 1.0), atol=1e-5)


def test_round_trip_recovers_raw_values(low_dim_meta):
    data = _data(np.random.default_rng(1))
    norm = Normalizer.fit(low_dim_meta, data)
    for key, values in data.items():
        raw = torch.as_tensor(values, dtype=torch.float32)
        assert torch.allclose(norm.unnormalize(key, norm.normalize(key, raw)), raw, atol=1e-5)


def test_constant_dimension_maps_to_zero_and_back(low_dim_meta):
    data = _data(np.random.default_rng(2))
    norm = Normalizer.fit(low_dim_meta, data)
    x = torch.as_tensor(data["object"], dtype=torch.float32)
    y = norm.normalize("object", x)
    assert torch.allclose(y[:, 3], torch.zeros(100))
    assert torch.allclose(norm.unnormalize("object", y)[:, 3], torch.full((100,), 0.7))


def test_images_scale_to_unit_interval(image_meta):
    rng = np.random.default_rng(0)
    norm = Normalizer.fit(image_meta, {"agent_pos": rng.normal(size=(10, 2)), "action": rng.normal(size=(10, 2))})
    img = torch.tensor([[0, 255, 51]], dtype=torch.uint8)
    assert torch.allclose(norm.normalize("overhead_image", img), torch.tensor([[0.0, 1.0, 0.2]]))


def test_state_dict_carries_the_statistics(low_dim_meta):
    data = _data(np.random.default_rng(3))
    fitted = Normalizer.fit(low_dim_meta, data)
    fresh = Normalizer(low_dim_meta)
    fresh.load_state_dict(fitted.state_dict())
    x = torch.as_tensor(data["action"], dtype=torch.float32)
    assert torch.equal(fresh.normalize("action", x), fitted.normalize("action", x))


def test_unfitted_normalizer_refuses_to_normalize(low_dim_meta):
    with pytest.raises(RuntimeError, match="before it was fitted"):
        Normalizer(low_dim_meta).normalize("action", torch.zeros(1, 2))


def test_fit_refuses_missing_key_and_non_finite(low_dim_meta):
    data = _data(np.random.default_rng(4))
    with pytest.raises(KeyError, match="object"):
        Normalizer.fit(low_dim_meta, {k: v for k, v in data.items() if k != "object"})
    data["action"][3, 1] = np.nan
    with pytest.raises(ValueError, match="action"):
        Normalizer.fit(low_dim_meta, data)
