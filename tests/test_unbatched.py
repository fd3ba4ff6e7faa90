"""One image, (C, H, W), through conv and pooling layers and functionals, as
PyTorch accepts it: the same values as the batch of one, gradients flowing,
and the same shapes, values, gradients and grad_fn names as torch."""
import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn as nn
import tinygrad_cnn.nn.functional as F

RNG = np.random.default_rng(0)
IMAGE = RNG.standard_normal((3, 8, 8)).astype(np.float32)
WEIGHT = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.3
BIAS = RNG.standard_normal(4).astype(np.float32)
UP_WEIGHT = RNG.standard_normal((3, 2, 3, 3)).astype(np.float32) * 0.3

CALLS = {
    "conv2d": lambda F, x, T: F.conv2d(x, T(WEIGHT), T(BIAS), padding=1),
    "conv2d_same_strideless": lambda F, x, T: F.conv2d(x, T(WEIGHT), padding="same"),
    "conv_transpose2d": lambda F, x, T: F.conv_transpose2d(x, T(UP_WEIGHT), T(BIAS[:2]), stride=2),
    "max_pool2d": lambda F, x, T: F.max_pool2d(x, 2),
    "avg_pool2d": lambda F, x, T: F.avg_pool2d(x, 3, stride=2, padding=1),
    "adaptive_avg_pool2d": lambda F, x, T: F.adaptive_avg_pool2d(x, (3, 2)),
    "adaptive_max_pool2d": lambda F, x, T: F.adaptive_max_pool2d(x, 3),
}


@pytest.mark.parametrize("name", CALLS)
def test_one_image_gives_the_batch_of_ones_result_and_gradient(name):
    single = tc.tensor(IMAGE, requires_grad=True)
    batch = tc.tensor(IMAGE[None], requires_grad=True)
    out_single = CALLS[name](F, single, tc.tensor)
    out_batch = CALLS[name](F, batch, tc.tensor)
    assert out_single.shape == out_batch.shape[1:]
    np.testing.assert_allclose(out_single.data, out_batch.data[0], rtol=1e-6, atol=1e-6)
    upstream = RNG.standard_normal(out_single.shape).astype(np.float32)
    out_single.backward(tc.tensor(upstream))
    out_batch.backward(tc.tensor(upstream[None]))
    np.testing.assert_allclose(single.grad.data, batch.grad.data[0], rtol=1e-6, atol=1e-6)


def test_a_model_classifies_one_image():
    tc.manual_seed(0)
    features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.AvgPool2d(2),
                             nn.ConvTranspose2d(4, 2, 2, stride=2), nn.AdaptiveAvgPool2d(1))
    image = tc.randn(1, 8, 8)
    assert features(image).shape == (2, 1, 1)
    np.testing.assert_allclose(features(image).data, features(image.unsqueeze(0)).data[0], rtol=1e-6)
    with pytest.raises(ValueError, match=r"conv2d: expected a 3-D \(unbatched, C x H x W\) or 4-D .* got shape \(8, 8\)"):
        features(tc.randn(8, 8))
    assert F.adaptive_max_pool2d(input=image, output_size=2).shape == (1, 2, 2)     # the input as a keyword
    with pytest.raises(ValueError, match="BatchNorm2d: expected 4D input"):   # as PyTorch: no unbatched BatchNorm2d
        nn.BatchNorm2d(3)(tc.randn(3, 4, 4))


@pytest.mark.parametrize("name", CALLS)
def test_unbatched_matches_torch(name):
    torch = pytest.importorskip("torch")
    ours_x = tc.tensor(IMAGE, requires_grad=True)
    theirs_x = torch.tensor(IMAGE, requires_grad=True)
    ours = CALLS[name](F, ours_x, tc.tensor)
    theirs = CALLS[name](torch.nn.functional, theirs_x, torch.tensor)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-5, atol=1e-5)
    upstream = RNG.standard_normal(tuple(theirs.shape)).astype(np.float32)
    ours.backward(tc.tensor(upstream))
    theirs.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours_x.grad.data, theirs_x.grad.numpy(), rtol=1e-5, atol=1e-5)
    assert ours.grad_fn.name() == theirs.grad_fn.name()


def test_unbatched_layers_match_torch():
    torch = pytest.importorskip("torch")
    for ours_layer, theirs_layer in [(nn.Conv2d(3, 4, 3), torch.nn.Conv2d(3, 4, 3)),
                                     (nn.MaxPool2d(2, 1), torch.nn.MaxPool2d(2, 1)),
                                     (nn.AvgPool2d(2), torch.nn.AvgPool2d(2))]:
        ours_layer.load_state_dict({k: tc.tensor(v.detach().numpy()) for k, v in theirs_layer.state_dict().items()})
        np.testing.assert_allclose(ours_layer(tc.tensor(IMAGE)).data,
                                   theirs_layer(torch.tensor(IMAGE)).detach().numpy(), rtol=1e-5, atol=1e-5)
