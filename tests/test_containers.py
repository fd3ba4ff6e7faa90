"""Sequential and ModuleList as lists of modules: assignment, deletion (with
PyTorch's renumbering), insert, append, extend, pop, slices, negative
indices, + and *; compared with torch's containers when it is installed."""
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn as nn


def _head_net(nn_):
    return nn_.Sequential(nn_.Flatten(), nn_.Linear(12, 512), nn_.ReLU(), nn_.Dropout(0.1), nn_.Linear(512, 1000))


def test_replacing_the_head_changes_the_output_and_the_parameters():
    model = _head_net(nn)
    model[4] = nn.Linear(512, 10)
    assert model(tc.randn(2, 3, 4)).shape == (2, 10)
    assert list(model.state_dict()) == ["1.weight", "1.bias", "4.weight", "4.bias"]
    assert model.state_dict()["4.weight"].shape == (10, 512)
    model[-1] = nn.Linear(512, 3)
    assert model[4].out_features == 3 and model(tc.randn(1, 12)).shape == (1, 3)
    with pytest.raises(IndexError, match="Sequential: index 5 is out of range for 5 modules"):
        model[5] = nn.ReLU()
    with pytest.raises(TypeError, match="cannot assign 'int' as child module '0'"):
        model[0] = 3
    with pytest.raises(TypeError):
        model["0"]


def test_delete_insert_and_append_renumber_like_pytorch():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 4), nn.Tanh())
    del model[1]
    assert list(model._modules) == ["0", "1", "2"] and isinstance(model[1], nn.Linear)
    model.insert(1, nn.ReLU())
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "Tanh"]
    model.insert(-1, nn.Sigmoid())
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "Sigmoid", "Tanh"]
    assert list(model._modules) == ["0", "1", "2", "3", "4"]
    model.append(nn.Identity()).extend([nn.ReLU(), nn.Tanh()])
    assert len(model) == 8 and list(model._modules)[-1] == "7"
    del model[1:3]
    assert [type(m).__name__ for m in model][:3] == ["Linear", "Sigmoid", "Tanh"] and len(model) == 6
    first = model.pop(0)
    assert isinstance(first, nn.Linear) and list(model._modules) == ["0", "1", "2", "3", "4"]
    with pytest.raises(IndexError, match="insert: index 9 is out of range"):
        model.insert(9, nn.ReLU())
    with pytest.raises(TypeError, match="extend: 'ReLU' object is not iterable"):
        model.extend(nn.ReLU())


def test_slices_keep_the_keys_and_share_the_modules():
    linear = nn.Linear(2, 3)
    model = nn.Sequential(nn.ReLU(), linear, nn.Tanh())
    tail = model[1:]
    assert isinstance(tail, nn.Sequential) and list(tail._modules) == ["1", "2"] and tail[0] is linear
    assert model[-1] is model[2] and model[::2][1] is model[2]
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"] and named.fc is named[0]
    assert list(named[1:]._modules) == ["act"]
    del named[0]
    assert list(named._modules) == ["0"]


def test_add_and_multiply_repeat_the_same_modules():
    block = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    twice = block + block
    assert len(twice) == 4 and twice[2] is block[0]
    assert len(block * 3) == 6 and len(2 * block) == 4
    block += nn.Sequential(nn.Tanh())
    assert len(block) == 3
    with pytest.raises(ValueError, match="non-positive multiplication factor 0"):
        block * 0


def test_module_list_shares_the_list_methods():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers[-1] = nn.ReLU()
    assert isinstance(layers[2], nn.ReLU)
    layers.insert(0, nn.Tanh())
    del layers[1]
    assert [type(m).__name__ for m in layers] == ["Tanh", "Linear", "ReLU"]
    assert list(layers[1:]._modules) == ["0", "1"]          # a ModuleList slice is renumbered
    assert layers.insert(0, nn.ReLU()) is None and len(layers) == 4


def test_containers_match_torch_keys_and_reprs():
    torch = pytest.importorskip("torch")

    def edit(nn_):
        model = nn_.Sequential(nn_.Linear(2, 3), nn_.ReLU(), nn_.Linear(3, 4), nn_.Tanh(), nn_.Linear(4, 1))
        del model[1]
        model.insert(-1, nn_.Sigmoid())
        model[0] = nn_.Linear(2, 3, bias=False)
        model.append(nn_.ReLU())
        del model[-3:-1]
        model.extend(nn_.Sequential(nn_.Tanh()))
        model.pop(1)
        return model, model[1:], model * 2
    ours, theirs = edit(nn), edit(torch.nn)
    for mine, reference in zip(ours, theirs):
        assert list(mine._modules) == list(reference._modules)
        assert repr(mine) == repr(reference)
        assert list(mine.state_dict()) == list(reference.state_dict())


def test_fine_tuning_a_replaced_head_trains_only_the_new_layer():
    tc.manual_seed(0)
    model = _head_net(nn)
    for p in model.parameters():
        p.requires_grad_(False)
    model[4] = nn.Linear(512, 10)
    optimizer = tc.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    frozen = model[1].weight.data.copy()
    x, y = tc.randn(8, 12), tc.randint(0, 10, (8,))
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    np.testing.assert_array_equal(model[1].weight.data, frozen)
    assert model[1].weight.grad is None and model[4].weight.grad is not None
