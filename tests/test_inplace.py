"""In-place changes follow PyTorch's rules: they change the tensor itself,
are refused on leaves that require grad (outside no_grad), and a backward
that would read a value changed since its op ran raises instead of
computing a wrong gradient."""
import numpy as np
import pytest

import tinygrad_cnn as tc


def test_inplace_methods_change_the_array_itself():
    t = tc.zeros(2, 3)
    array = t.data
    t.add_(1).mul_(3)
    t -= 1
    t /= 2
    t[:, 1] = 0
    assert t.data is array
    np.testing.assert_allclose(array, [[1, 0, 1], [1, 0, 1]])
    t.fill_(2.5)
    np.testing.assert_allclose(array, 2.5)
    t.clamp_(max=1.0)
    np.testing.assert_allclose(array, 1.0)
    t.copy_(tc.tensor([1.0, 2.0, 3.0]))          # broadcasts like PyTorch's copy_
    np.testing.assert_allclose(array, [[1, 2, 3], [1, 2, 3]])
    t.zero_()
    assert not array.any() and t.dtype == np.float32


def test_views_share_memory_like_pytorch():
    base = tc.zeros(3)
    a = np.zeros(3, dtype=np.float32)
    shared = tc.from_numpy(a)
    shared.add_(1)
    np.testing.assert_allclose(a, 1)
    assert base.numpy() is base.data


def test_leaf_that_requires_grad_refuses_inplace_outside_no_grad():
    w = tc.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w.add_(1)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w[0] = 5.0
    with tc.no_grad():
        w -= 0.5                                  # the tutorials' manual SGD update
    assert w.is_leaf and w.requires_grad
    np.testing.assert_allclose(w.data, 0.5)


def test_manual_sgd_loop_like_the_tutorials():
    x = tc.tensor(np.linspace(-1, 1, 20, dtype=np.float32))
    y = 3 * x + 1
    a = tc.zeros((), requires_grad=True)
    b = tc.zeros((), requires_grad=True)
    for _ in range(300):
        loss = ((a * x + b - y) ** 2).mean()
        loss.backward()
        with tc.no_grad():
            a -= 0.1 * a.grad
            b -= 0.1 * b.grad
            a.grad.zero_()
            b.grad = None
    assert abs(a.item() - 3) < 1e-2 and abs(b.item() - 1) < 1e-2


def test_changing_a_saved_input_makes_backward_raise():
    a = tc.tensor([1.0, 2.0], requires_grad=True)
    b = a * 2
    c = b * b                      # mul reads b in its backward
    b.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*'mul'"):
        c.sum().backward()


def test_changing_a_saved_output_makes_backward_raise():
    a = tc.tensor([0.5, -0.5], requires_grad=True)
    s = a.sigmoid()               # sigmoid reads its output in its backward
    s.mul_(2)
    with pytest.raises(RuntimeError, match="output of 'sigmoid'"):
        s.sum().backward()


def test_changing_a_constant_input_under_no_grad_makes_backward_raise():
    w = tc.ones(2, requires_grad=True)
    x = tc.tensor([1.0, 2.0])
    y = (w * x).sum()
    x.mul_(10)                    # x does not require grad: a plain write, version bumped
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_inplace_on_intermediate_that_nothing_saved_gives_the_right_gradient():
    a = tc.tensor([1.0, -2.0, 3.0], requires_grad=True)
    b = a * 2                     # mul saves a, not its output b
    b += 1
    b.relu_()                     # relu_ on a non-leaf: the graph now goes through relu
    b.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [2.0, 0.0, 2.0])
    assert b.grad_fn.name() == "ReluBackward0"
    c = a * 2
    c.relu_()
    c += 1                        # relu reads its output: changing it is refused, as in PyTorch
    with pytest.raises(RuntimeError, match="output of 'relu'"):
        c.sum().backward()


def test_setitem_inside_a_graph_is_differentiable():
    x = tc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = tc.tensor(5.0, requires_grad=True)
    y = x * 1
    y[1] = v * 2
    (y * tc.tensor([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 0.0, 100.0])
    np.testing.assert_allclose(v.grad.numpy(), 20.0)


def test_add_into_a_constant_tensor_makes_it_part_of_the_graph():
    w = tc.tensor([1.0, 2.0], requires_grad=True)
    acc = tc.zeros(2)
    acc += w * 3
    assert acc.requires_grad and not acc.is_leaf
    acc.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 3.0])


def test_dtype_rules_of_inplace_ops():
    ints = tc.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="can't be cast"):
        ints.add_(0.5)
    floats = tc.zeros(3)
    floats += tc.tensor([1, 2, 3])              # int into float32: stays float32
    assert floats.dtype == np.float32
    with pytest.raises(RuntimeError, match="read-only"):
        tc.ones(3).expand(2, 3).add_(1)


def test_numpy_of_a_tensor_that_requires_grad_raises_like_pytorch():
    w = tc.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        w.numpy()
    assert w.detach().numpy() is w.data


def test_matches_torch_when_installed():
    torch = pytest.importorskip("torch")
    values = np.array([1.0, -2.0, 3.0], dtype=np.float32)
    ours, theirs = tc.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    for lib, x in ((tc, ours), (torch, theirs)):
        y = x * 2
        y[0] = 7.0
        y += x
        y.relu_()
        (y * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy())
