"""Modules and layers: registration, names, modes, state dicts, initialisation,
errors, and PyTorch layout compatibility."""
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
    assert sum(p.size for p in model.parameters()) == 1 + 12 + 3 + 6 + 2
    assert [name for name, _ in tinynet().named_parameters()] == ["0.weight", "0.bias", "4.weight", "4.bias"]


def test_tinynet_parameter_count():
    model = tinynet()
    assert model[0].weight.size + model[0].bias.size == 80
    assert model[4].weight.size + model[4].bias.size == 13_530
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


def test_state_dict_round_trip_and_copies():
    tc.manual_seed(0)
    a, b = tinynet(), tinynet()
    state = a.state_dict()
    state["0.weight"][...] = 7.0                 # a copy: the model is not changed
    assert not np.all(a[0].weight.numpy() == 7.0)
    b.load_state_dict(a.state_dict())
    x = tc.randn(2, 1, 28, 28)
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.pop("4.bias"), r"missing keys: 4\.bias"),
    (lambda s: s.__setitem__("extra", np.zeros(1)), r"unexpected keys: extra"),
    (lambda s: s.__setitem__("0.weight", np.zeros((8, 1, 5, 5))), r"0\.weight: checkpoint has shape \(8, 1, 5, 5\), model has \(8, 1, 3, 3\)"),
])
def test_failed_load_names_the_key_and_leaves_model_unchanged(edit, message):
    model = tinynet()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    state = {k: np.zeros_like(v) for k, v in model.state_dict().items()}
    edit(state)
    with pytest.raises(ValueError, match=message):
        model.load_state_dict(state)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_non_strict_load_reports_keys():
    model = tinynet()
    state = model.state_dict()
    state.pop("4.bias")
    state["extra"] = np.zeros(2)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == ["4.bias"] and unexpected == ["extra"]


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
