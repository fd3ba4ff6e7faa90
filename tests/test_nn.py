"""Modules and layers: registration, names, modes, state dicts, initialisation,
errors, and PyTorch layout compatibility."""
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn as nn
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import Tensor


def tinynet():
    return nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1352, 10))


class TwoBranch(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
        self.head = nn.Linear(3, 2)
        self.scale = nn.Parameter(np.ones(1, dtype=np.float32))
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.head(self.drop(self.features(x))) * self.scale


def test_parameters_are_registered_with_dotted_names():
    model = TwoBranch()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["scale", "features.0.weight", "features.0.bias", "head.weight", "head.bias"]
    assert sum(p.data.size for p in model.parameters()) == 1 + 12 + 3 + 6 + 2
    assert [name for name, _ in tinynet().named_parameters()] == ["0.weight", "0.bias", "4.weight", "4.bias"]


def test_tinynet_parameter_count():
    model = tinynet()
    assert model[0].weight.data.size + model[0].bias.data.size == 80
    assert model[4].weight.data.size + model[4].bias.data.size == 13_530
    assert model.num_parameters() == 13_610


def test_sequential_indexing_len_iteration():
    model = tinynet()
    assert len(model) == 5
    assert isinstance(model[0], nn.Conv2d) and isinstance(model[-1], nn.Linear)
    assert [type(m).__name__ for m in model] == ["Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear"]
    assert len(model[1:3]) == 2


def test_train_eval_propagate_and_dropout_follows():
    model = TwoBranch()
    model.eval()
    assert all(not m.training for m in model.modules())
    x = tc.ones(5, 4)
    np.testing.assert_array_equal(model(x).detach().numpy(), model(x).detach().numpy())
    model.train()
    assert all(m.training for m in model.modules())


def test_zero_grad_and_backward_through_model():
    model = TwoBranch().eval()
    model(tc.randn(3, 4)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_state_dict_round_trip():
    tc.manual_seed(0)
    a, b = tinynet(), tinynet()
    b.load_state_dict(a.state_dict())
    x = tc.randn(2, 1, 28, 28)
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())


def test_state_dict_holds_detached_tensors_sharing_memory_like_pytorch():
    model = TwoBranch()
    state = model.state_dict()
    assert isinstance(state, OrderedDict)
    assert list(state) == ["scale", "features.0.weight", "features.0.bias", "head.weight", "head.bias"]
    for key, value in state.items():
        assert type(value) is Tensor and not value.requires_grad and value.is_leaf
    assert state["head.weight"].shape == (2, 3)
    # shares memory: training (an in-place update) shows through, as in PyTorch
    model.head.weight.data[...] = 3.0
    np.testing.assert_array_equal(state["head.weight"].detach().numpy(), np.full((2, 3), 3.0, np.float32))
    kept = model.state_dict(keep_vars=True)
    assert kept["head.weight"] is model.head.weight


def test_load_state_dict_copies_in_place_and_casts():
    model = nn.Linear(3, 2)
    weight = model.weight
    view = model.state_dict()["weight"]
    result = model.load_state_dict({"weight": np.arange(6, dtype=np.float64).reshape(2, 3),
                                    "bias": Tensor(np.array([1.0, 2.0], np.float32))})
    assert model.weight is weight and weight.dtype == np.float32 and weight.requires_grad
    np.testing.assert_array_equal(view.detach().numpy(), np.arange(6, dtype=np.float32).reshape(2, 3))
    source = np.zeros((2, 3), np.float32)
    model.load_state_dict({"weight": source, "bias": [0.0, 0.0]})
    source[...] = 5.0                       # the model holds a copy of what it loaded
    assert not model.weight.detach().numpy().any()
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"


def test_shared_parameter_appears_under_each_name():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2)
            self.b = nn.Linear(2, 2)
            self.b.weight = self.a.weight

    model = Tied()
    assert list(model.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]
    assert [name for name, _ in model.named_parameters()] == ["a.weight", "a.bias", "b.bias"]
    model.load_state_dict(Tied().state_dict())


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.pop("4.bias"), r'Missing key\(s\) in state_dict: "4\.bias"'),
    (lambda s: s.__setitem__("extra", np.zeros(1)), r'Unexpected key\(s\) in state_dict: "extra"'),
    (lambda s: s.__setitem__("0.weight", np.zeros((8, 1, 5, 5))),
     r"size mismatch for 0\.weight: copying a param with shape \(8, 1, 5, 5\) from checkpoint, "
     r"the shape in current model is \(8, 1, 3, 3\)"),
])
@pytest.mark.parametrize("strict", [True, False])
def test_failed_load_names_the_key_and_leaves_model_unchanged(edit, message, strict):
    model = tinynet()
    before = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    state = {k: np.zeros_like(v.detach().numpy()) for k, v in model.state_dict().items()}
    edit(state)
    if not strict and "size mismatch" not in message:
        model.load_state_dict(state, strict=False)     # key problems only matter when strict
        return
    with pytest.raises(RuntimeError, match=message) as info:
        model.load_state_dict(state, strict=strict)
    assert isinstance(info.value, ValueError)
    assert "Error(s) in loading state_dict for Sequential" in str(info.value)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.detach().numpy(), before[key])


def test_non_strict_load_reports_keys():
    model = tinynet()
    state = model.state_dict()
    state.pop("4.bias")
    state["extra"] = np.zeros(2)
    result = model.load_state_dict(state, strict=False)
    missing, unexpected = result
    assert missing == ["4.bias"] and unexpected == ["extra"]
    assert result.missing_keys == ["4.bias"] and result.unexpected_keys == ["extra"]
    assert repr(result) == "_IncompatibleKeys(missing_keys=['4.bias'], unexpected_keys=['extra'])"


def test_wrong_input_shape_names_the_layer():
    with pytest.raises(ValueError, match=r"layer 0 \(Conv2d.*input has 3 channels but weight expects 1"):
        tinynet()(tc.zeros(2, 3, 28, 28))
    with pytest.raises(ValueError, match=r"layer 4 \(Linear.*input has 648 features"):
        tinynet()(tc.zeros(2, 1, 20, 20))


def test_default_initialisation_matches_pytorch_bounds_and_dtype():
    tc.manual_seed(0)
    conv, linear = nn.Conv2d(3, 16, 5), nn.Linear(300, 20)
    for layer, fan_in in ((conv, 3 * 25), (linear, 300)):
        bound = 1 / np.sqrt(fan_in)
        for p in layer.parameters():
            assert p.dtype == np.float32 and p.requires_grad
            assert np.abs(p.detach().numpy()).max() <= bound
            assert np.abs(p.detach().numpy()).max() > 0.8 * bound     # spread over the whole range
    scaled = nn.Conv2d(1, 64, 5, weight_scale=1e-3)
    assert scaled.weight.detach().numpy().std() == pytest.approx(1e-3, rel=0.1)
    assert not scaled.bias.detach().numpy().any()


def test_manual_seed_makes_initialisation_reproducible():
    tc.manual_seed(5)
    a = tinynet().state_dict()
    tc.manual_seed(5)
    b = tinynet().state_dict()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_repr_is_readable():
    text = repr(tinynet())
    assert "(0): Conv2d(1, 8, kernel_size=(3, 3)" in text and "(4): Linear(in_features=1352" in text


def test_pytorch_state_dict_loads_as_is():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                 torch.nn.Flatten(), torch.nn.Linear(1352, 10))
    ours = tinynet()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    expected = theirs(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(ours(Tensor(x)).detach().numpy(), expected, rtol=1e-4, atol=1e-5)
    loss_ours = F.cross_entropy(ours(Tensor(x)), Tensor(np.array([1, 2, 3])))
    loss_theirs = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor([1, 2, 3]))
    assert loss_ours.item() == pytest.approx(loss_theirs.item(), rel=1e-5)


# --- PyTorch's face: reprs, devices and dtypes, buffers, small layers -----------------------


def build_net(nn_):
    """The same network in tinygrad_cnn.nn or torch.nn."""
    class Net(nn_.Module):
        def __init__(self):
            super().__init__()
            self.features = nn_.Sequential(
                nn_.Conv2d(1, 32, 5, padding=2), nn_.ReLU(), nn_.MaxPool2d(2),
                nn_.Conv2d(32, 64, (3, 2), stride=2, bias=False), nn_.ReLU(inplace=True), nn_.AvgPool2d(2, 1))
            self.head = nn_.Sequential(nn_.Flatten(), nn_.Dropout(0.25), nn_.Linear(64, 10), nn_.Identity(),
                                       nn_.LogSoftmax(dim=1))
            self.probs = nn_.Softmax(dim=-1)
            self.loss = nn_.CrossEntropyLoss()

        def forward(self, x):
            return self.head(self.features(x))

    return Net()


def test_repr_matches_pytorch():
    torch = pytest.importorskip("torch")
    assert repr(build_net(nn)) == repr(build_net(torch.nn))
    assert repr(tinynet()) == repr(torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(1352, 10)))


def test_repr_layout_without_torch():
    text = repr(nn.Sequential(nn.Linear(784, 10), nn.Sequential(nn.ReLU())))
    assert text == ("Sequential(\n"
                    "  (0): Linear(in_features=784, out_features=10, bias=True)\n"
                    "  (1): Sequential(\n"
                    "    (0): ReLU()\n"
                    "  )\n"
                    ")")
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"


@pytest.mark.parametrize("device", ["cpu", "cpu:0"])
def test_to_cpu_returns_the_same_module(device):
    model = tinynet()
    weight = model[0].weight
    assert model.to(device) is model and model.cpu() is model and model.to(device=device) is model
    assert model[0].weight is weight and weight.dtype == np.float32


@pytest.mark.parametrize("call", [lambda m: m.to("cuda"), lambda m: m.to("cuda:0"), lambda m: m.cuda(),
                                  lambda m: m.to(device="mps"),
                                  lambda m: m.to("cuda", np.float64)])
def test_other_devices_raise(call):
    model = tinynet()
    with pytest.raises(RuntimeError, match="tinygrad_cnn runs on the CPU"):
        call(model)
    assert model[0].weight.dtype == np.float32


def test_double_and_float_convert_parameters_in_place():
    model = TwoBranch()
    params = list(model.parameters())
    model(tc.ones(2, 4)).sum().backward()
    assert model.double() is model
    assert [p for p in model.parameters()] == params          # the same Parameter objects
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 and p.requires_grad for p in params)
    assert model(Tensor(np.ones((2, 4)))).dtype == np.float64
    model.float()
    assert all(p.dtype == np.float32 for p in params)
    model.to(tc.float64)
    assert all(p.dtype == np.float64 for p in params)
    model.to(Tensor(np.zeros(1, np.float32)))
    assert all(p.dtype == np.float32 for p in params)
    with pytest.raises(TypeError, match="only floating point dtypes"):
        model.to(np.int64)


def test_buffers_are_state_but_not_parameters():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(2, 2)
            self.register_buffer("scale", Tensor(np.full(2, 3.0, np.float32)))
            self.register_buffer("cache", Tensor(np.zeros(2, np.float32)), persistent=False)

        def forward(self, x):
            return self.linear(x) * self.scale

    model = Scaled()
    assert [name for name, _ in model.named_parameters()] == ["linear.weight", "linear.bias"]
    assert [name for name, _ in model.named_buffers()] == ["scale", "cache"]
    assert list(model.state_dict()) == ["scale", "linear.weight", "linear.bias"]
    other = Scaled()
    other.scale = Tensor(np.full(2, 5.0, np.float32))          # assignment keeps it a buffer
    model.load_state_dict(other.state_dict())
    np.testing.assert_array_equal(model.scale.detach().numpy(), [5.0, 5.0])
    model.double()
    assert model.scale.dtype == np.float64 and model.cache.dtype == np.float64
    with pytest.raises(TypeError, match="cannot assign a int as buffer 'scale'"):
        model.scale = 3


def test_parameter_keeps_its_place_when_reassigned_and_rejects_plain_tensors():
    layer = nn.Linear(2, 3)
    layer.weight = nn.Parameter(np.zeros((3, 2), np.float32))
    assert list(layer.state_dict()) == ["weight", "bias"]
    with pytest.raises(TypeError, match=r"cannot assign a Tensor as parameter 'weight' \(a Parameter or None"):
        layer.weight = Tensor(np.zeros((3, 2), np.float32))
    layer.bias = None
    assert list(layer.state_dict()) == ["weight"] and layer.bias is None


def test_softmax_dim_and_axis_alias():
    x = Tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 10)
    for dim in (0, 1, 2, -1):
        expected = np.exp(x.detach().numpy()) / np.exp(x.detach().numpy()).sum(axis=dim, keepdims=True)
        np.testing.assert_allclose(F.softmax(x, dim=dim).detach().numpy(), expected, rtol=1e-6)
        np.testing.assert_allclose(F.softmax(x, axis=dim).detach().numpy(), expected, rtol=1e-6)
        np.testing.assert_allclose(F.log_softmax(x, dim).detach().numpy(), np.log(expected), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(nn.Softmax(dim)(x).detach().numpy(), expected, rtol=1e-6)
        np.testing.assert_allclose(nn.LogSoftmax(dim)(x).detach().numpy(), np.log(expected), rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="softmax: got both dim=1 and axis=2"):
        F.softmax(x, dim=1, axis=2)


@pytest.mark.parametrize("shape, implicit", [((5,), 0), ((2, 5), 1), ((2, 3, 4), 0), ((2, 3, 4, 5), 1)])
def test_softmax_without_dim_follows_pytorch_with_a_warning(shape, implicit):
    x = Tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
    with pytest.warns(UserWarning, match=f"softmax: implicit dimension choice .* pass dim={implicit}"):
        got = F.softmax(x)
    np.testing.assert_array_equal(got.detach().numpy(), F.softmax(x, dim=implicit).detach().numpy())


def test_training_mode_switches_for_a_block_and_gives_each_flag_back():
    from tinygrad_cnn.nn.module import training_mode
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5), nn.Sequential(nn.Dropout(0.1)))
    model[1].eval()                                     # a model partly in eval
    before = [m.training for m in model.modules()]
    with training_mode(model, False):
        assert not any(m.training for m in model.modules())
    assert [m.training for m in model.modules()] == before
    with pytest.raises(ZeroDivisionError), training_mode(model, True):
        assert all(m.training for m in model.modules())
        1 / 0
    assert [m.training for m in model.modules()] == before


def test_softmax_dim_rules_are_one_rule():
    """tc.softmax, Tensor.softmax and F.softmax agree given a dim; without one,
    torch.softmax and Tensor.softmax raise (dim is required) while only
    F.softmax picks PyTorch's legacy dim, as in PyTorch."""
    x = Tensor(np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32))
    for dim in (0, 1, -1):
        for name in ("softmax", "log_softmax"):
            expected = getattr(F, name)(x, dim=dim).numpy()
            np.testing.assert_array_equal(getattr(tc, name)(x, dim).numpy(), expected)
            np.testing.assert_array_equal(getattr(x, name)(dim).numpy(), expected)
    for call in (lambda: tc.softmax(x), lambda: x.softmax(), lambda: tc.log_softmax(x), lambda: x.log_softmax()):
        with pytest.raises(TypeError, match="missing 1 required positional argument: 'dim'"):
            call()


@pytest.mark.parametrize("shape", [(), (5,), (2, 5), (2, 3, 4), (2, 3, 4, 5)])
def test_softmax_implicit_dim_matches_torch(shape):
    torch = pytest.importorskip("torch")
    values = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    with pytest.warns(UserWarning):
        expected = torch.nn.functional.softmax(torch.from_numpy(values)).numpy()
    with pytest.warns(UserWarning, match="implicit dimension choice"):
        got = F.softmax(Tensor(values)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    with pytest.raises(TypeError):
        torch.softmax(torch.from_numpy(values))          # what tc.softmax(x) does too


def test_flatten_defaults_follow_pytorch():
    x = tc.zeros(2, 3, 4, 5)
    assert F.flatten(x).shape == (120,)                    # torch.flatten: start_dim=0
    assert F.flatten(x, 1).shape == (2, 60) and F.flatten(x, start_axis=2).shape == (2, 3, 20)
    assert F.flatten(x, 1, 2).shape == (2, 12, 5)
    assert nn.Flatten()(x).shape == (2, 60) and nn.Flatten(0, 1)(x).shape == (6, 4, 5)


def test_identity_relu_and_unsupported_pool_options():
    x = tc.randn(2, 3)
    assert nn.Identity(54, unused="argument")(x) is x
    np.testing.assert_array_equal(F.relu(x).detach().numpy(), np.maximum(x.detach().numpy(), 0))
    with pytest.raises(NotImplementedError, match="MaxPool2d: ceil_mode=True is not supported"):
        nn.MaxPool2d(2, ceil_mode=True)
    with pytest.raises(NotImplementedError, match="max_pool2d: return_indices=True is not supported"):
        F.max_pool2d(tc.zeros(1, 1, 4, 4), 2, return_indices=True)


def test_pytorch_tensors_load_directly():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Linear(4, 3)
    ours = nn.Linear(4, 3)
    assert repr(ours.load_state_dict(theirs.state_dict())) == repr(theirs.load_state_dict(theirs.state_dict()))
    np.testing.assert_array_equal(ours.weight.detach().numpy(), theirs.weight.detach().numpy())
    assert ours.state_dict()["weight"].shape == tuple(theirs.state_dict()["weight"].size())
