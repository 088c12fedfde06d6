import pytest
import torch

from robopolicy.encoders import EncoderConfig, ObsEncoder
from robopolicy.encoders.crop import center_crop, random_crop
from robopolicy.encoders.resnet import ResNetTrunk, SpatialSoftmax
from tests.conftest import random_obs

SMALL = EncoderConfig(rgb_feature_dim=16, channels=(8, 8, 16, 16), num_keypoints=4)


def test_low_dim_keys_are_concatenated_unchanged(low_dim_meta):
    enc = ObsEncoder(low_dim_meta)
    obs = random_obs(low_dim_meta, batch=3, horizon=2)
    tokens = enc(obs)
    assert tokens.shape == (3, 2, 6) and enc.feature_dim == 6
    assert torch.equal(tokens, torch.cat([obs["agent_pos"], obs["object"]], dim=-1))
    assert enc(obs, flat=True).shape == (3, 12)


def test_camera_features_shape_and_gradient(image_meta):
    enc = ObsEncoder(image_meta, SMALL)
    obs = {k: (v.float() / 255 if v.dtype == torch.uint8 else v) for k, v in random_obs(image_meta, 2, 3).items()}
    tokens = enc(obs)
    assert tokens.shape == (2, 3, 2 + 16) and enc.feature_dim == 18
    tokens.sum().backward()
    assert enc.trunks["overhead_image"].stem[0].weight.grad.abs().sum() > 0


def test_eval_uses_center_crop_deterministically_and_train_crops_randomly(image_meta):
    enc = ObsEncoder(image_meta, SMALL)
    obs = {k: (v.float() / 255 if v.dtype == torch.uint8 else v) for k, v in random_obs(image_meta, 4, 2).items()}
    enc.eval()
    assert torch.equal(enc(obs), enc(obs))
    enc.train()
    torch.manual_seed(0)
    first = enc(obs)
    assert not torch.equal(first, enc(obs))


def test_shared_trunk_option(image_meta):
    enc = ObsEncoder(image_meta, EncoderConfig(rgb_feature_dim=8, channels=(8, 8, 8, 8), num_keypoints=2, share_rgb_trunk=True))
    assert list(enc.trunks) == ["shared"]


def test_encoder_config_rejects_unknown_options():
    with pytest.raises(ValueError, match="unknown encoder option.*crop"):
        EncoderConfig.from_dict({"crop": 0.8})
    assert EncoderConfig.from_dict({"channels": [8, 8, 16, 16]}).channels == (8, 8, 16, 16)


def test_crops():
    images = torch.arange(2 * 6 * 6).reshape(2, 6, 6, 1)
    c = center_crop(images, (4, 4))
    assert torch.equal(c, images[:, 1:5, 1:5])
    g = torch.Generator().manual_seed(0)
    r = random_crop(images, (3, 3), generator=g)
    assert r.shape == (2, 3, 3, 1)
    for i in range(2):  # each crop is a contiguous window of its own image
        top, left = divmod(int(r[i, 0, 0, 0]) - 36 * i, 6)
        assert torch.equal(r[i], images[i, top : top + 3, left : left + 3])


def test_spatial_softmax_returns_expected_keypoint_location():
    ss = SpatialSoftmax(in_channels=1, num_keypoints=1)
    with torch.no_grad():
        ss.keypoints.weight.fill_(1.0)
        ss.keypoints.bias.zero_()
    fmap = torch.zeros(1, 1, 5, 5)
    fmap[0, 0, 0, 4] = 50.0  # a sharp peak at the top-right corner: x = +1, y = -1
    assert torch.allclose(ss(fmap), torch.tensor([[1.0, -1.0]]), atol=1e-4)


def test_resnet_trunk_downsamples_to_features():
    trunk = ResNetTrunk(out_dim=10, channels=(8, 8, 16, 16), num_keypoints=3)
    assert trunk(torch.rand(2, 3, 40, 40)).shape == (2, 10)
    with pytest.raises(ValueError, match="four stage widths"):
        ResNetTrunk(channels=(8, 8))


def test_images_too_small_for_keypoints_are_refused():
    from robopolicy.core import ObsSpec, ShapeMeta

    meta = ShapeMeta(obs={"cam_image": ObsSpec((24, 24, 3), "rgb")}, action_dim=2)
    with pytest.raises(ValueError, match="cam_image.*1x1 feature map"):
        ObsEncoder(meta, SMALL)
