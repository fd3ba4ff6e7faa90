"""Hooks: Module forward hooks and pre-hooks (PyTorch's semantics) and
Tensor gradient hooks."""
import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn as nn
from tinygrad_cnn import Tensor


def small_model():
    tc.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def batch():
    return Tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 5)


# --- forward hooks --------------------------------------------------------------------------------

def test_forward_hook_fires_once_per_call_with_args_and_output():
    model = small_model()
    seen = []
    handle = model[0].register_forward_hook(lambda module, args, output: seen.append((module, args, output)))
    x = batch()
    out = model(x)
    assert len(seen) == 1
    module, args, output = seen[0]
    assert module is model[0]
    assert isinstance(args, tuple) and len(args) == 1 and args[0] is x
    np.testing.assert_array_equal(output.data, model[0](x).data)
    assert output.requires_grad                      # the hook sees the recorded output
    model(x)
    assert len(seen) == 3                            # the call just above counts too
    handle.remove()
    model(x)
    assert len(seen) == 3
    assert out.shape == (2, 2)


def test_forward_hook_can_replace_the_output_and_gradients_follow():
    model = small_model()
    model[1].register_forward_hook(lambda module, args, output: output * 0)
    x = batch()
    out = model(x)
    # the ReLU's output is zeroed: the model outputs the last bias
    np.testing.assert_allclose(out.detach().numpy(), np.broadcast_to(model[2].bias.detach().numpy(), (2, 2)))
    out.sum().backward()
    assert np.all(model[0].weight.grad.numpy() == 0)
    np.testing.assert_allclose(model[2].bias.grad.numpy(), [2.0, 2.0])


def test_forward_pre_hook_sees_and_replaces_the_arguments():
    model = small_model()
    seen = []

    def double(module, args):
        seen.append(args)
        return args[0] * 2                           # a single value is wrapped in a tuple

    handle = model.register_forward_pre_hook(double)
    x = batch()
    doubled = model(x)
    assert len(seen) == 1 and seen[0][0] is x
    handle.remove()
    np.testing.assert_allclose(doubled.detach().numpy(), model(x * 2).detach().numpy())


def test_hook_order_prepend_kwargs_and_context_manager():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    module = Scale()
    order = []
    module.register_forward_hook(lambda m, a, o: order.append("first"))
    module.register_forward_hook(lambda m, a, o: order.append("prepended"), prepend=True)

    def kwargs_pre_hook(m, args, kwargs):
        order.append(("pre", dict(kwargs)))
        return args, {"factor": 3.0}

    module.register_forward_pre_hook(kwargs_pre_hook, with_kwargs=True)
    module.register_forward_hook(lambda m, a, kw, o: order.append(("kw", kw["factor"])), with_kwargs=True)
    out = module(Tensor([1.0, 2.0]), factor=2.0)
    np.testing.assert_allclose(out.data, [3.0, 6.0])
    assert order == [("pre", {"factor": 2.0}), "prepended", "first", ("kw", 3.0)]

    calls = []
    with module.register_forward_hook(lambda m, a, o: calls.append(1)):
        module(Tensor([1.0]))
    module(Tensor([1.0]))
    assert calls == [1]


def test_always_call_hook_runs_when_forward_raises():
    class Broken(nn.Module):
        def forward(self, x):
            raise ValueError("broken forward")

    module = Broken()
    seen = []
    module.register_forward_hook(lambda m, a, o: seen.append(("always", o)), always_call=True)
    module.register_forward_hook(lambda m, a, o: seen.append("normal"))
    with pytest.raises(ValueError, match="broken forward"):
        module(Tensor([1.0]))
    assert seen == [("always", None)]


def test_hook_must_be_callable_and_no_hooks_means_plain_forward():
    module = nn.ReLU()
    with pytest.raises(TypeError, match="callable"):
        module.register_forward_hook(42)
    # nothing registered: no hook tables are created on the instance
    assert "_forward_hooks" not in module.__dict__ and "_forward_pre_hooks" not in module.__dict__


def test_forward_hooks_match_torch():
    torch = pytest.importorskip("torch")
    records = {}
    for name, lib, tensor in (("ours", nn, Tensor), ("torch", torch.nn, torch.tensor)):
        layer = lib.Linear(3, 2)
        seen = []
        layer.register_forward_pre_hook(lambda m, args: seen.append(("pre", len(args))))
        layer.register_forward_hook(lambda m, args, out: seen.append(("post", tuple(out.shape))))
        layer.register_forward_hook(lambda m, args, out: seen.append("prepended"), prepend=True)
        layer(tensor(np.ones((4, 3), dtype=np.float32)))
        records[name] = seen
    assert records["ours"] == records["torch"]


# --- tensor hooks ---------------------------------------------------------------------------------

def test_tensor_hook_fires_once_per_backward_with_the_gradient():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    hidden = x * 2
    seen = []
    handle = hidden.register_hook(lambda grad: seen.append(grad.numpy().copy()))
    # hidden reaches the loss by two paths: the hook sees the summed gradient once
    loss = (hidden * hidden).sum() + hidden.sum()
    loss.backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], 2 * np.array([2.0, 4.0, 6.0]) + 1)
    np.testing.assert_allclose(x.grad.numpy(), 2 * seen[0])
    handle.remove()
    x.grad = None
    loss = (x * 2).sum()
    loss.backward()
    assert len(seen) == 1


def test_tensor_hook_replacement_changes_the_gradient_upstream():
    x = Tensor([1.0, -1.0], requires_grad=True)
    y = x * 3
    y.register_hook(lambda grad: grad * 10)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [30.0, 30.0])


def test_tensor_hook_on_a_leaf_and_a_wrong_replacement():
    w = Tensor([1.0, 2.0], requires_grad=True)
    w.register_hook(lambda grad: grad + 1)
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 5.0])
    v = Tensor([1.0, 2.0], requires_grad=True)
    v.register_hook(lambda grad: Tensor([1.0, 2.0, 3.0]))
    with pytest.raises(RuntimeError, match="hook"):
        (v * 2).sum().backward()
