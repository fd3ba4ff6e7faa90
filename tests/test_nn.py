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
    np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())
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
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())


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
    np.testing.assert_array_equal(state["head.weight"].numpy(), np.full((2, 3), 3.0, np.float32))
    kept = model.state_dict(keep_vars=True)
    assert kept["head.weight"] is model.head.weight


def test_load_state_dict_copies_in_place_and_casts():
    model = nn.Linear(3, 2)
    weight = model.weight
    view = model.state_dict()["weight"]
    result = model.load_state_dict({"weight": np.arange(6, dtype=np.float64).reshape(2, 3),
                                    "bias": Tensor(np.array([1.0, 2.0], np.float32))})
    assert model.weight is weight and weight.dtype == np.float32 and weight.requires_grad
    np.testing.assert_array_equal(view.numpy(), np.arange(6, dtype=np.float32).reshape(2, 3))
    source = np.zeros((2, 3), np.float32)
    model.load_state_dict({"weight": source, "bias": [0.0, 0.0]})
    source[...] = 5.0                       # the model holds a copy of what it loaded
    assert not model.weight.numpy().any()
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
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    state = {k: np.zeros_like(v.numpy()) for k, v in model.state_dict().items()}
    edit(state)
    if not strict and "size mismatch" not in message:
        model.load_state_dict(state, strict=False)     # key problems only matter when strict
        return
    with pytest.raises(RuntimeError, match=message) as info:
        model.load_state_dict(state, strict=strict)
    assert isinstance(info.value, ValueError)
    assert "Error(s) in loading state_dict for Sequential" in str(info.value)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key])


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
            assert np.abs(p.numpy()).max() <= bound
            assert np.abs(p.numpy()).max() > 0.8 * bound     # spread over the whole range
    scaled = nn.Conv2d(1, 64, 5, weight_scale=1e-3)
    assert scaled.weight.numpy().std() == pytest.approx(1e-3, rel=0.1)
    assert not scaled.bias.numpy().any()


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
    np.testing.assert_allclose(ours(Tensor(x)).numpy(), expected, rtol=1e-4, atol=1e-5)
    loss_ours = F.cross_entropy(ours(Tensor(x)), Tensor(np.array([1, 2, 3])))
    loss_theirs = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor([1, 2, 3]))
    assert loss_ours.item() == pytest.approx(loss_theirs.item(), rel=1e-5)
