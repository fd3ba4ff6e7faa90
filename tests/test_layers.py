"""Issue 8's layers against PyTorch (skipped without torch): batch norm in
training and eval mode with its running statistics, the activations, the
adaptive pools, ConvTranspose2d, Dropout2d, the containers, gradient clipping,
and module reprs and state_dict keys."""
import math

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn as nn
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import Tensor

RTOL, ATOL = 1e-5, 1e-6


def _torch():
    return pytest.importorskip("torch")


def _rng(seed=0):
    return np.random.default_rng(seed)


def _compare_forward_backward(ours_fn, torch_fn, *arrays, rtol=RTOL, atol=ATOL, seed=1):
    """Same float32 inputs through both; compare outputs and the input gradients
    for a random upstream gradient."""
    torch = _torch()
    ours_in = [Tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours, theirs = ours_fn(*ours_in), torch_fn(*theirs_in)
    np.testing.assert_allclose(ours.numpy() if not ours.requires_grad else ours.detach().numpy(),
                               theirs.detach().numpy(), rtol=rtol, atol=atol)
    upstream = _rng(seed).standard_normal(tuple(theirs.shape)).astype(np.float32)
    ours.backward(Tensor(upstream))
    theirs.backward(torch.tensor(upstream))
    for a, b in zip(ours_in, theirs_in):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol)


# --- activations ---------------------------------------------------------------------

ACTIVATIONS = [
    ("leaky_relu", lambda F_, x: F_.leaky_relu(x), None),
    ("leaky_relu_0.2", lambda F_, x: F_.leaky_relu(x, 0.2), None),
    ("elu", lambda F_, x: F_.elu(x), None),
    ("elu_0.5", lambda F_, x: F_.elu(x, alpha=0.5), None),
    ("gelu", lambda F_, x: F_.gelu(x), None),
    ("gelu_tanh", lambda F_, x: F_.gelu(x, approximate="tanh"), None),
    ("silu", lambda F_, x: F_.silu(x), None),
    ("tanh", lambda F_, x: F_.tanh(x), None),
    ("sigmoid", lambda F_, x: F_.sigmoid(x), None),
]


@pytest.mark.parametrize("name,fn,_", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_matches_torch(name, fn, _):
    torch = _torch()
    x = (_rng().standard_normal((4, 5, 3)) * 3).astype(np.float32)
    x[0, 0, :3] = [-30.0, 30.0, 1e-3]            # far tails and near 0
    _compare_forward_backward(lambda t: fn(F, t), lambda t: fn(torch.nn.functional, t), x)


def test_activations_keep_float32_and_float64():
    for name, fn, _ in ACTIVATIONS:
        for dtype in (np.float32, np.float64):
            assert fn(F, Tensor(np.linspace(-3, 3, 7).astype(dtype))).dtype == dtype, name


def test_erf_is_accurate_to_float64():
    x = np.concatenate([np.linspace(-7, 7, 20001), [0.0, 1e-300, -1e-12, 0.46875, 4.0, 27.0, -40.0]])
    got = tc.erf(Tensor(x)).numpy()
    expected = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(got, expected, rtol=2e-15, atol=1e-300)
    assert Tensor(np.float32([0.5])).erf().dtype == np.float32


def test_gelu_tail_is_relative_accurate():
    x = np.array([-10.0, -6.0, -3.0])
    expected = [v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in x]
    np.testing.assert_allclose(F.gelu(Tensor(x)).numpy(), expected, rtol=1e-13)


def test_activation_modules_match_torch():
    torch = _torch()
    x = _rng(2).standard_normal((3, 4)).astype(np.float32)
    pairs = [(nn.LeakyReLU(0.1), torch.nn.LeakyReLU(0.1)), (nn.ELU(0.7), torch.nn.ELU(0.7)),
             (nn.GELU(), torch.nn.GELU()), (nn.GELU("tanh"), torch.nn.GELU("tanh")), (nn.SiLU(), torch.nn.SiLU()),
             (nn.Tanh(), torch.nn.Tanh()), (nn.Sigmoid(), torch.nn.Sigmoid())]
    for ours, theirs in pairs:
        _compare_forward_backward(ours, theirs, x)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(Tensor([1.0]), approximate="fast")
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("erf")


# --- batch norm ----------------------------------------------------------------------

def _copy_params(ours, theirs):
    """Load the torch module's state into ours (PyTorch's keys load as they are)."""
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _assert_state_equal(ours, theirs, rtol=RTOL, atol=ATOL):
    theirs_state = theirs.state_dict()
    ours_state = ours.state_dict()
    assert list(ours_state) == list(theirs_state)
    for key, value in theirs_state.items():
        np.testing.assert_allclose(ours_state[key].numpy(), value.numpy(), rtol=rtol, atol=atol, err_msg=key)
        assert ours_state[key].dtype == {"torch.float32": np.float32, "torch.int64": np.int64}[str(value.dtype)]


@pytest.mark.parametrize("kind,shape", [("1d", (8, 3)), ("1d", (4, 3, 5)), ("2d", (4, 3, 5, 6))])
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batch_norm_training_steps_match_torch(kind, shape, momentum):
    torch = _torch()
    ours_cls, theirs_cls = {"1d": (nn.BatchNorm1d, torch.nn.BatchNorm1d),
                            "2d": (nn.BatchNorm2d, torch.nn.BatchNorm2d)}[kind]
    ours, theirs = ours_cls(3, momentum=momentum), theirs_cls(3, momentum=momentum)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor([0.5, -1.5, 2.0]))
        theirs.bias.copy_(torch.tensor([0.1, 0.0, -0.3]))
    _copy_params(ours, theirs)
    rng = _rng(3)
    for step in range(4):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        for module in (ours, theirs):
            module.zero_grad()
        _compare_forward_backward(ours, theirs, x, rtol=1e-4, atol=1e-5, seed=step)
        for name in ("weight", "bias"):
            np.testing.assert_allclose(getattr(ours, name).grad.numpy(), getattr(theirs, name).grad.numpy(),
                                       rtol=1e-4, atol=1e-5)
        _assert_state_equal(ours, theirs)
    assert int(ours.num_batches_tracked.item()) == 4
    # evaluation mode: the running statistics
    ours.eval(), theirs.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    _compare_forward_backward(ours, theirs, x, rtol=1e-4, atol=1e-5)
    _assert_state_equal(ours, theirs)


@pytest.mark.parametrize("affine,track", [(False, True), (True, False), (False, False)])
def test_batch_norm_options_match_torch(affine, track):
    torch = _torch()
    ours = nn.BatchNorm2d(2, affine=affine, track_running_stats=track)
    theirs = torch.nn.BatchNorm2d(2, affine=affine, track_running_stats=track)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    x = _rng(4).standard_normal((3, 2, 4, 4)).astype(np.float32)
    for training in (True, False):
        ours.train(training), theirs.train(training)
        _compare_forward_backward(ours, theirs, x, rtol=1e-4, atol=1e-5)
        _assert_state_equal(ours, theirs)


def test_batch_norm_on_channels_last_memory_and_float64():
    torch = _torch()
    x = _rng(5).standard_normal((2, 5, 4, 3)).astype(np.float32)
    channels_last = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    ours = F.batch_norm(Tensor(channels_last), None, None, training=True)
    theirs = torch.nn.functional.batch_norm(torch.tensor(x), None, None, training=True)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-5)
    assert F.batch_norm(Tensor(x.astype(np.float64)), None, None, training=True).dtype == np.float64


def test_functional_batch_norm_updates_running_stats_in_place():
    torch = _torch()
    x = _rng(6).standard_normal((6, 3)).astype(np.float32)
    ours_mean, ours_var = tc.zeros(3), tc.ones(3)
    theirs_mean, theirs_var = torch.zeros(3), torch.ones(3)
    F.batch_norm(Tensor(x), ours_mean, ours_var, training=True, momentum=0.3)
    torch.nn.functional.batch_norm(torch.tensor(x), theirs_mean, theirs_var, training=True, momentum=0.3)
    np.testing.assert_allclose(ours_mean.numpy(), theirs_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours_var.numpy(), theirs_var.numpy(), rtol=1e-5, atol=1e-6)   # unbiased


def test_batch_norm_errors_name_the_problem():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(Tensor(np.ones((1, 3), dtype=np.float32)))
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(Tensor(np.ones((2, 3), dtype=np.float32)))
    with pytest.raises(ValueError, match="num_features=3"):
        nn.BatchNorm2d(3)(Tensor(np.ones((2, 4, 2, 2), dtype=np.float32)))
    with pytest.raises(ValueError, match="running_mean and running_var"):
        F.batch_norm(Tensor(np.ones((2, 3), dtype=np.float32)), None, None, training=False)


def test_batch_norm_second_order_through_the_statistics():
    from tinygrad_cnn.testing import gradgradcheck
    x = Tensor(_rng(7).standard_normal((3, 2, 2)), requires_grad=True)
    weight = Tensor(np.array([0.7, -1.2]), requires_grad=True)
    bias = Tensor(np.array([0.1, 0.2]), requires_grad=True)
    gradgradcheck(lambda a, w, b: F.batch_norm(a, None, None, w, b, training=True), [x, weight, bias])


# --- pooling -------------------------------------------------------------------------

@pytest.mark.parametrize("size,output_size", [((6, 6), 1), ((6, 8), (3, 2)), ((5, 7), (3, 4)), ((4, 4), (6, 5)),
                                              ((7, 5), (None, 2)), ((9, 9), (4, 4))])
def test_adaptive_pools_match_torch(size, output_size):
    torch = _torch()
    x = _rng(8).permutation(2 * 3 * size[0] * size[1]).reshape((2, 3) + size).astype(np.float32) / 7
    for ours, theirs in ((F.adaptive_avg_pool2d, torch.nn.functional.adaptive_avg_pool2d),
                         (F.adaptive_max_pool2d, torch.nn.functional.adaptive_max_pool2d)):
        _compare_forward_backward(lambda t: ours(t, output_size), lambda t: theirs(t, output_size), x)
    _compare_forward_backward(nn.AdaptiveAvgPool2d(output_size), torch.nn.AdaptiveAvgPool2d(output_size), x)
    _compare_forward_backward(nn.AdaptiveMaxPool2d(output_size), torch.nn.AdaptiveMaxPool2d(output_size), x)


def test_adaptive_max_pool_ties_go_to_the_first_maximum():
    torch = _torch()
    x = np.zeros((1, 1, 5, 5), dtype=np.float32)
    _compare_forward_backward(lambda t: F.adaptive_max_pool2d(t, 3),
                              lambda t: torch.nn.functional.adaptive_max_pool2d(t, 3), x)


def test_global_average_pool_is_the_mean():
    x = _rng(9).standard_normal((2, 3, 5, 4)).astype(np.float32)
    out = nn.AdaptiveAvgPool2d(1)(Tensor(x))
    assert out.shape == (2, 3, 1, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy()[..., 0, 0], x.mean(axis=(2, 3)), rtol=1e-6)


# --- ConvTranspose2d, Dropout2d ------------------------------------------------------

@pytest.mark.parametrize("kwargs", [{}, {"stride": 2, "padding": 1, "output_padding": 1},
                                    {"groups": 2, "bias": False, "dilation": 2}])
def test_conv_transpose2d_module_matches_torch(kwargs):
    torch = _torch()
    ours, theirs = nn.ConvTranspose2d(4, 6, 3, **kwargs), torch.nn.ConvTranspose2d(4, 6, 3, **kwargs)
    assert repr(ours) == repr(theirs)
    assert ours.weight.shape == tuple(theirs.weight.shape)
    _copy_params(ours, theirs)
    x = _rng(10).standard_normal((2, 4, 5, 5)).astype(np.float32)
    _compare_forward_backward(ours, theirs, x, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_conv_transpose2d_init_bound_is_pytorchs():
    layer = nn.ConvTranspose2d(64, 32, 3)
    bound = 1 / math.sqrt(32 * 9)     # fan_in from the weight's dim 1: out_channels // groups * KH * KW
    weight = layer.weight.detach().numpy()
    assert weight.dtype == np.float32 and np.abs(weight).max() <= bound
    assert np.abs(weight).max() > 0.98 * bound
    assert abs(weight.std() - bound / math.sqrt(3)) < 0.02 * bound


def test_dropout2d_zeroes_whole_channels():
    tc.manual_seed(0)
    x = Tensor(np.ones((8, 16, 3, 3), dtype=np.float32), requires_grad=True)
    layer = nn.Dropout2d(0.25)
    out = layer(x).detach().numpy()
    planes = out.reshape(8, 16, 9)
    assert np.all((planes == 0).all(axis=2) | (planes == np.float32(1 / 0.75)).all(axis=2))
    assert 0.1 < (planes[:, :, 0] == 0).mean() < 0.4
    layer(x).sum().backward()
    assert x.grad.shape == x.shape
    assert repr(layer) == "Dropout2d(p=0.25, inplace=False)"
    layer.eval()
    assert layer(x) is x


# --- containers and Module helpers ---------------------------------------------------

def test_module_list_behaves_like_pytorchs():
    torch = _torch()
    ours = nn.ModuleList([nn.Linear(2, 2), nn.ReLU()])
    theirs = torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.ReLU()])
    for container, lib in ((ours, nn), (theirs, torch.nn)):
        container.append(lib.Linear(2, 3))
        container.extend([lib.Tanh(), lib.Tanh()])
        container.insert(1, lib.Sigmoid())
        container += [lib.Linear(3, 1)]
        del container[0]
        container[0] = lib.Linear(2, 2, bias=False)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert len(ours) == len(theirs) == 6
    assert type(ours[-1]).__name__ == "Linear" and isinstance(ours[1:3], nn.ModuleList)
    assert repr(ours[1:3]) == repr(theirs[1:3])
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    with pytest.raises(IndexError):
        ours[6]
    assert type(ours.pop(1)).__name__ == "ReLU" and len(ours) == 5 and list(ours._modules) == list("01234")


def test_module_dict_behaves_like_pytorchs():
    torch = _torch()
    ours = nn.ModuleDict({"conv": nn.Conv2d(1, 2, 3), "act": nn.ReLU()})
    theirs = torch.nn.ModuleDict({"conv": torch.nn.Conv2d(1, 2, 3), "act": torch.nn.ReLU()})
    ours.update([("head", nn.Linear(2, 1))])
    theirs.update([("head", torch.nn.Linear(2, 1))])
    ours["norm"], theirs["norm"] = nn.BatchNorm1d(2), torch.nn.BatchNorm1d(2)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours) == list(theirs) == list(ours.keys())
    assert "conv" in ours and "nothing" not in ours
    assert [type(v).__name__ for v in ours.values()] == [type(v).__name__ for _, v in theirs.items()]
    assert type(ours.pop("act")).__name__ == "ReLU" and len(ours) == 3


def test_nested_containers_register_their_parameters():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)) for _ in range(2)])
            self.heads = nn.ModuleDict({"a": nn.Linear(2, 1)})

    net = Net()
    names = [name for name, _ in net.named_parameters()]
    assert names == ["blocks.0.0.weight", "blocks.0.0.bias", "blocks.0.1.weight", "blocks.0.1.bias",
                     "blocks.1.0.weight", "blocks.1.0.bias", "blocks.1.1.weight", "blocks.1.1.bias",
                     "heads.a.weight", "heads.a.bias"]
    assert "blocks.1.1.num_batches_tracked" in net.state_dict()
    assert net.get_submodule("blocks.1.0") is net.blocks[1][0]


def test_add_module_apply_and_requires_grad():
    model = nn.Sequential()
    model.add_module("first-layer", nn.Linear(3, 3))
    model.add_module("act", nn.GELU())
    assert list(model.state_dict()) == ["first-layer.weight", "first-layer.bias"]
    with pytest.raises(KeyError):
        model.add_module("bad.name", nn.ReLU())
    with pytest.raises(TypeError):
        model.add_module("x", 3)
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "GELU", "Sequential"]

    def init_linear(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)
    model.apply(init_linear)
    assert not model[0].weight.data.any()
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())


def test_reprs_equal_pytorchs():
    torch = _torch()
    pairs = [
        (nn.BatchNorm1d(4), torch.nn.BatchNorm1d(4)),
        (nn.BatchNorm2d(8, eps=1e-3, momentum=None), torch.nn.BatchNorm2d(8, eps=1e-3, momentum=None)),
        (nn.LeakyReLU(), torch.nn.LeakyReLU()), (nn.LeakyReLU(0.2, True), torch.nn.LeakyReLU(0.2, True)),
        (nn.ELU(), torch.nn.ELU()), (nn.ELU(0.5, inplace=True), torch.nn.ELU(0.5, inplace=True)),
        (nn.GELU(), torch.nn.GELU()), (nn.GELU("tanh"), torch.nn.GELU("tanh")),
        (nn.SiLU(), torch.nn.SiLU()), (nn.Tanh(), torch.nn.Tanh()), (nn.Sigmoid(), torch.nn.Sigmoid()),
        (nn.AdaptiveAvgPool2d(1), torch.nn.AdaptiveAvgPool2d(1)),
        (nn.AdaptiveAvgPool2d((2, None)), torch.nn.AdaptiveAvgPool2d((2, None))),
        (nn.AdaptiveMaxPool2d((3, 3)), torch.nn.AdaptiveMaxPool2d((3, 3))),
        (nn.Dropout2d(), torch.nn.Dropout2d()), (nn.ModuleList(), torch.nn.ModuleList()),
        (nn.ModuleDict(), torch.nn.ModuleDict()),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
    ours = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4), nn.GELU()]))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                                 torch.nn.ModuleList([torch.nn.Linear(4, 4), torch.nn.Linear(4, 4),
                                                      torch.nn.GELU()]))
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())


# --- gradient clipping ---------------------------------------------------------------

@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = _torch()
    rng = _rng(11)
    grads = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (4,), (2, 2, 2)]]
    ours = [Tensor(np.zeros(g.shape, dtype=np.float32), requires_grad=True) for g in grads]
    theirs = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for o, t, g in zip(ours, theirs, grads):
        o.grad, t.grad = Tensor(g.copy()), torch.tensor(g)
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(total, Tensor) and total.dtype == np.float32
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_clip_grad_norm_nonfinite_and_value():
    p = Tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
    p.grad = Tensor(np.array([1.0, np.inf, 0.0], dtype=np.float32))
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    p.grad = Tensor(np.array([-3.0, 0.2, 5.0], dtype=np.float32))
    nn.utils.clip_grad_value_([p], 1.0)
    np.testing.assert_array_equal(p.grad.numpy(), np.float32([-1.0, 0.2, 1.0]))
    model = nn.Linear(3, 2)
    vector = nn.utils.parameters_to_vector(model.parameters())
    assert vector.shape == (8,)
    nn.utils.vector_to_parameters(vector * 2, model.parameters())
    np.testing.assert_allclose(nn.utils.parameters_to_vector(model.parameters()).numpy(), vector.numpy() * 2)


def test_batch_norm_cnn_trains():
    tc.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, 2))
    rng = _rng(12)
    x = rng.standard_normal((16, 1, 6, 6)).astype(np.float32)
    labels = (x.mean(axis=(1, 2, 3)) > 0).astype(np.int64)
    x[labels == 1] += 1.0
    opt = tc.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = F.cross_entropy(model(Tensor(x)), labels)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("kernel, dilation, padding", [(3, 1, "same"), (4, 1, "same"), (4, 2, "same"),
                                                       (2, 1, "same"), (3, 1, "valid")])
def test_conv2d_string_padding(kernel, dilation, padding):
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 8)).astype(np.float32)
    conv = nn.Conv2d(3, 4, kernel, padding=padding, dilation=dilation)
    out = conv(tc.tensor(x))
    assert out.shape == ((2, 4, 9, 8) if padding == "same" else (2, 4, 9 - kernel + 1, 8 - kernel + 1))
    assert repr(conv).endswith(f"padding={padding})" if dilation == 1 else f"dilation=({dilation}, {dilation}))")
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Conv2d(3, 4, kernel, padding=padding, dilation=dilation)
    conv.load_state_dict({k: tc.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    assert repr(conv) == repr(theirs)
    ours_x, theirs_x = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours_out, theirs_out = conv(ours_x), theirs(theirs_x)
    np.testing.assert_allclose(ours_out.detach().numpy(), theirs_out.detach().numpy(), atol=1e-5)
    (ours_out * ours_out).sum().backward()
    theirs_out.square().sum().backward()
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), atol=1e-4)
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")


FUNCTIONAL_CASES = [
    ("pad", lambda f, t: f.pad(t, (1, 2, 0, 3), value=0.5)), ("normalize", lambda f, t: f.normalize(t, dim=1)),
    ("softplus", lambda f, t: f.softplus(t, beta=2.0, threshold=5.0)), ("relu6", lambda f, t: f.relu6(t)),
    ("hardtanh", lambda f, t: f.hardtanh(t, -2, 3)), ("logsigmoid", lambda f, t: f.logsigmoid(t)),
    ("softmin", lambda f, t: f.softmin(t, dim=1)), ("layer_norm", lambda f, t: f.layer_norm(t, (4, 5))),
]


def _functional_input():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)) * 3
    x[np.abs(x) < 0.1] += 0.3                      # away from the kinks of relu6/hardtanh
    x[np.abs(x - 6) < 0.1] += 0.3
    x[np.abs(np.abs(x) - 2.5) < 0.1] += 0.3        # softplus's cut-over at beta * x = 5
    return x


@pytest.mark.parametrize("name, call", FUNCTIONAL_CASES)
def test_more_functionals_gradcheck(name, call):
    from tinygrad_cnn.testing import gradcheck
    gradcheck(lambda t: call(F, t), [tc.tensor(_functional_input(), requires_grad=True)])


@pytest.mark.parametrize("name, call", FUNCTIONAL_CASES)
def test_more_functionals_match_torch(name, call):
    x = _functional_input()
    torch = pytest.importorskip("torch")
    ours, theirs = tc.tensor(x.astype(np.float32), requires_grad=True), torch.tensor(x.astype(np.float32), requires_grad=True)
    out_ours, out_theirs = call(F, ours), call(torch.nn.functional, theirs)
    np.testing.assert_allclose(out_ours.detach().numpy(), out_theirs.detach().numpy(), rtol=1e-5, atol=1e-6)
    out_ours.sum().backward()
    out_theirs.sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_more_modules_shapes_and_errors():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    modules = [nn.LayerNorm((4, 5)), nn.Softplus(), nn.ReLU6(), nn.Hardtanh(), nn.Unflatten(1, (3, 1)),
               nn.ZeroPad2d((1, 0, 2, 1))]
    assert [tuple(m(tc.tensor(x)).shape) for m in modules] == [
        (2, 3, 4, 5), (2, 3, 4, 5), (2, 3, 4, 5), (2, 3, 4, 5), (2, 3, 1, 4, 5), (2, 3, 7, 6)]
    assert sorted(dict(modules[0].named_parameters())) == ["bias", "weight"]
    with pytest.raises(ValueError, match="does not end in normalized_shape"):
        nn.LayerNorm(3)(tc.tensor(x))


def test_more_modules_print_like_torch():
    torch = pytest.importorskip("torch")
    modules = [nn.LayerNorm((4, 5)), nn.Softplus(), nn.ReLU6(), nn.Hardtanh(), nn.Unflatten(1, (3, 1)),
               nn.ZeroPad2d((1, 0, 2, 1))]
    theirs = [torch.nn.LayerNorm((4, 5)), torch.nn.Softplus(), torch.nn.ReLU6(), torch.nn.Hardtanh(),
              torch.nn.Unflatten(1, (3, 1)), torch.nn.ZeroPad2d((1, 0, 2, 1))]
    assert [repr(m) for m in modules] == [repr(m) for m in theirs]
