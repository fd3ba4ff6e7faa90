"""The engine: construction rules, accumulation, graph freeing, grad mode,
higher-order gradients and error messages."""
import gc
import weakref

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import Tensor


# --- construction and dtype ---------------------------------------------------

def test_construction_dtype_rules():
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor(3.5).dtype == np.float32
    assert Tensor([[1, 2]]).dtype == np.float32
    assert Tensor(np.arange(3)).dtype == np.arange(3).dtype          # arrays keep their dtype
    assert Tensor(np.ones(2, dtype=np.float64)).dtype == np.float64
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert Tensor(np.ones(2), dtype="float32").dtype == np.float32


def test_basic_accessors():
    t = Tensor([[1.0, 2.0, 3.0]])
    assert t.shape == (1, 3) and t.ndim == 2
    assert isinstance(t.detach().numpy(), np.ndarray)
    np.testing.assert_array_equal(np.asarray(t), [[1, 2, 3]])
    assert Tensor(4.0).item() == 4.0
    with pytest.raises(ValueError, match="one element"):
        t.item()
    assert "tensor(" in repr(t) and "requires_grad=True" in repr(Tensor(1.0, requires_grad=True))
    assert "grad_fn=<MulBackward0>" in repr(Tensor(1.0, requires_grad=True) * 2)


def test_python_scalars_keep_float32():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = (x * 2.5 + 1.0) / 3.0 - 0.5
    y = 2.0 ** y + y ** 2 + (1.0 - y) + x.mean() + x.var()
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_only_float_tensors_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        Tensor(np.arange(3), requires_grad=True)


# --- first-order gradients against hand-computed values -----------------------

def test_mul_sum_gradients():
    x = Tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    w = Tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = (x * w).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.5, -1.0, 2.0]])
    np.testing.assert_allclose(w.grad.numpy(), [1.0, 2.0, 3.0])   # summed over the broadcast axis


def test_broadcast_gradient_is_summed():
    x = Tensor(np.ones((4, 1, 3)), requires_grad=True)
    b = Tensor(np.ones((2, 1)), requires_grad=True)
    (x * b).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((4, 1, 3), 2.0))
    np.testing.assert_allclose(b.grad.numpy(), np.full((2, 1), 12.0))


def test_shared_input_accumulates_over_paths():
    x = Tensor(3.0, requires_grad=True)
    y = x * x + x          # dy/dx = 2x + 1 = 7
    y.backward()
    assert x.grad.item() == pytest.approx(7.0)


def test_repeated_backward_accumulates_into_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])


def test_leaf_grads_do_not_alias():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()           # add's VJP hands the same gradient to both
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    a.grad.numpy()[0] = 100.0
    assert b.grad.numpy()[0] == 1.0


def test_getitem_repeated_indices_scatter_add():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 0.0, 1.0])


def test_max_ties_split_gradient_evenly():
    # amax and the full max() share ties, as PyTorch's do ...
    x = Tensor([[1.0, 5.0, 5.0], [2.0, 2.0, 2.0]], requires_grad=True)
    x.amax(dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    y = Tensor([3.0, 1.0, 3.0], requires_grad=True)
    y.max().backward()
    np.testing.assert_allclose(y.grad.numpy(), [0.5, 0, 0.5])
    # ... while max(dim) sends the gradient to the index it returns (the first)
    z = Tensor([[1.0, 5.0, 5.0], [2.0, 2.0, 2.0]], requires_grad=True)
    values, indices = z.max(dim=1)
    np.testing.assert_array_equal(indices.detach().numpy(), [1, 0])
    values.sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), [[0, 1, 0], [1, 0, 0]])
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([1.0, 1.0], requires_grad=True)
    tc.maximum(a, b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [0.5, 1.0])
    np.testing.assert_allclose(b.grad.numpy(), [0.5, 0.0])


def test_relu_gradient_at_zero_is_zero():
    x = Tensor([-1.0, 0.0, 2.0], requires_grad=True)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0])


def test_matmul_gradients_match_formula():
    rng = np.random.default_rng(0)
    a_np, b_np, g_np = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    a, b = Tensor(a_np, requires_grad=True), Tensor(b_np, requires_grad=True)
    (a @ b).backward(Tensor(g_np))
    np.testing.assert_allclose(a.grad.numpy(), g_np @ b_np.T)
    np.testing.assert_allclose(b.grad.numpy(), a_np.T @ g_np)


def test_tensor_methods_and_functions_agree():
    x = Tensor(np.linspace(0.1, 2, 6).reshape(2, 3))
    for name in ["exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs"]:
        np.testing.assert_array_equal(getattr(tc, name)(x).detach().numpy(), getattr(x, name)().detach().numpy())
    np.testing.assert_array_equal(tc.sum(x, axis=1).detach().numpy(), x.sum(axis=1).detach().numpy())
    np.testing.assert_array_equal(tc.concatenate([x, x], axis=1).detach().numpy(), np.concatenate([x.detach().numpy()] * 2, 1))
    np.testing.assert_array_equal(tc.stack([x, x]).detach().numpy(), np.stack([x.detach().numpy()] * 2))
    assert x.permute(1, 0).shape == (3, 2) and x.flatten(0).shape == (6,)
    assert x.reshape(3, 2).shape == (3, 2) and x.expand(4, -1, -1).shape == (4, 2, 3)


# --- engine mechanics ------------------------------------------------------------

def test_long_chain_backward_is_iterative():
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_second_backward_needs_retain_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    z = (x.exp() * 2).sum()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0]) * 3, rtol=1e-6)


def test_nonscalar_backward_needs_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).backward(Tensor([1.0, 2.0, 3.0]))


def test_graph_is_freed_without_the_cycle_collector():
    gc.disable()
    try:
        x = Tensor(np.ones(3), requires_grad=True)
        hidden = x * 2
        watcher = weakref.ref(hidden)
        loss = hidden.exp().sum()
        del hidden
        assert watcher() is not None            # loss's graph holds it
        del loss
        assert watcher() is None                # and nothing else: no reference cycle
    finally:
        gc.enable()


def test_backward_frees_saved_values():
    x = Tensor(np.ones(3), requires_grad=True)
    hidden = x * 2
    watcher = weakref.ref(hidden)
    loss = hidden.exp().sum()
    del hidden
    loss.backward()
    # after backward the exp node no longer holds its input
    assert watcher() is None


def test_no_grad_context_and_decorator():
    x = Tensor([1.0], requires_grad=True)
    with tc.no_grad():
        y = x * 2
        assert not tc.is_grad_enabled()
        with tc.enable_grad():
            assert (x * 2).requires_grad
    assert tc.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf

    @tc.no_grad()
    def f(t):
        return t * 3

    @tc.no_grad
    def g(t):
        return t * 3

    assert not f(x).requires_grad and not g(x).requires_grad
    assert (x * 1).requires_grad


def test_backward_builds_no_graph_without_create_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x ** 3).sum().backward()
    assert not x.grad.requires_grad and x.grad.is_leaf


def test_detach_cuts_the_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    (x * d).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_retain_grad_on_intermediate():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [6.0, 12.0])


# --- tc.grad and higher order ---------------------------------------------------

def test_grad_of_grad():
    x = Tensor(np.array(2.0), requires_grad=True)
    y = x ** 3
    (dy,) = tc.grad(y, x, create_graph=True)
    assert dy.item() == pytest.approx(12.0)
    (d2y,) = tc.grad(dy, x)
    assert d2y.item() == pytest.approx(12.0)
    assert x.grad is None                       # tc.grad writes no .grad


def test_hessian_vector_product():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 3))
    sym = a + a.T
    x = Tensor(rng.standard_normal(3), requires_grad=True)
    v = rng.standard_normal(3)
    f = 0.5 * (x @ Tensor(sym) @ x) + x.tanh().sum()
    (g,) = tc.grad(f, x, create_graph=True)
    (hv,) = tc.grad(g, x, grad_outputs=Tensor(v))
    tanh = np.tanh(x.detach().numpy())
    expected = sym @ v + (-2 * tanh * (1 - tanh ** 2)) * v
    np.testing.assert_allclose(hv.detach().numpy(), expected, rtol=1e-10)


def test_backward_with_create_graph_gives_differentiable_grad():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x ** 2).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (gg,) = tc.grad(x.grad.sum(), x)
    np.testing.assert_allclose(gg.detach().numpy(), [2.0, 2.0])


def test_grad_unused_inputs():
    x = Tensor([1.0], requires_grad=True)
    unused = Tensor([1.0], requires_grad=True)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        tc.grad(y, [x, unused], retain_graph=True)
    gx, gu = tc.grad(y, [x, unused], allow_unused=True)
    assert gx.item() == 2.0 and gu is None


def test_grad_with_respect_to_intermediate():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    y = (h * h).sum()
    (gh,) = tc.grad(y, h)
    np.testing.assert_allclose(gh.detach().numpy(), [4.0, 8.0])


# --- errors read in the user's terms ---------------------------------------------

@pytest.mark.parametrize("expr, message", [
    (lambda: tc.zeros(2, 3) + tc.zeros(4, 5), r"add: shapes \(2, 3\) and \(4, 5\) do not broadcast"),
    (lambda: tc.zeros(2, 3) * tc.zeros(4), r"mul: shapes \(2, 3\) and \(4,\) do not broadcast"),
    (lambda: tc.zeros(2, 3) @ tc.zeros(4, 5), r"matmul: \(2, 3\) @ \(4, 5\): inner dimensions 3 and 4 differ"),
    (lambda: tc.zeros(2, 3).reshape(4, 2), r"reshape: cannot reshape .*\(2, 3\).*\(4, 2\)"),
    (lambda: tc.zeros(2, 3).sum(dim=2), r"sum: dimension 2 is out of range for a tensor with 2 dimensions"),
    (lambda: tc.concatenate([tc.zeros(2, 3), tc.zeros(3, 3)], axis=1), r"concatenate: .*\(2, 3\), \(3, 3\)"),
    (lambda: tc.zeros(2, 3).broadcast_to((4, 2)), r"broadcast_to: cannot broadcast shape \(2, 3\) to \(4, 2\)"),
    (lambda: tc.zeros(2, 3).permute(0, 0), r"permute: axes \(0, 0\)"),
])
def test_shape_errors_name_the_op_and_shapes(expr, message):
    with pytest.raises((ValueError, IndexError), match=message):
        expr()


def test_index_error_names_the_op():
    with pytest.raises(IndexError, match=r"getitem: .*shape \(2, 3\)"):
        tc.zeros(2, 3)[5]


# --- user-defined ops --------------------------------------------------------

def test_user_op_records_and_differentiates():
    @tc.defop("test_cube", spec=tc.Spec(), replace=True)
    def cube(ctx, x):
        return x ** 3

    @cube.defvjp
    def cube_vjp(ctx, grad_out):
        (x,) = ctx.inputs
        return (grad_out * 3 * x * x,)

    x = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    cube(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])
    with pytest.raises(ValueError, match="already registered"):
        tc.defop("test_cube")(lambda ctx, x: x)
    from tinygrad_cnn.testing import gradgradcheck
    assert gradgradcheck(cube, [np.array([0.5, 1.5])])


def test_square_special_case_has_correct_derivatives():
    from tinygrad_cnn.testing import gradcheck, gradgradcheck
    x = np.array([[-1.5, 0.3], [2.0, -0.7]])
    assert gradcheck(lambda t: t ** 2, [x])
    assert gradgradcheck(lambda t: t ** 2, [x])
    assert gradgradcheck(lambda t: t ** 2.0 * t.tanh() + t.sigmoid(), [x])


def test_autograd_backward_with_inputs_fills_only_those_grads():
    """torch.autograd.backward(tensors, inputs=...) as in PyTorch: only the
    named leaves get a .grad (accumulated), the others stay None."""
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    y = tc.tensor([3.0, 4.0], requires_grad=True)
    tc.autograd.backward((x * y).sum(), inputs=[x])
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])
    assert y.grad is None
    (x * y).sum().backward(inputs=x)
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 8.0])
    assert y.grad is None


def test_kernel_hook_fast_forward_and_array_vjp_with_reference_fallbacks():
    """Op.kernel, the engine's one hook for fast implementations: its forward
    runs instead of the reference's, its array-level VJP serves backward
    without create_graph; with create_graph the reference VJP runs (after the
    reference forward is replayed, so it sees what that forward saves); a
    NotImplemented from either side hands the case to the reference."""
    calls = []

    @tc.defop("test_kernel_cube", spec=tc.Spec(), replace=True)
    def cube(ctx, x):
        calls.append("reference forward")
        ctx.save(square=x * x)
        return x * ctx.saved["square"]

    @cube.defvjp
    def cube_vjp(ctx, grad_out):
        calls.append("reference vjp")
        assert "square" in ctx.saved           # what the reference forward saved
        x = ctx.inputs[0]
        return (grad_out * 3 * x * x,)

    class Kernel:
        decline = False

        def forward(self, ctx, x):
            calls.append("kernel forward")
            return NotImplemented if self.decline else x ** 3

        def vjp(self, ctx, grad_out):
            calls.append("kernel vjp")
            return NotImplemented if self.decline else (grad_out * 3 * ctx.inputs[0].data ** 2,)

    kernel = Kernel()
    cube.kernel = kernel
    try:
        x = tc.tensor([1.0, 2.0], requires_grad=True)
        cube(x).sum().backward()
        assert calls == ["kernel forward", "kernel vjp"]
        np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])

        calls.clear()
        (g,) = tc.grad(cube(x).sum(), x, create_graph=True)
        assert calls == ["kernel forward", "reference forward", "reference vjp"]
        (gg,) = tc.grad(g.sum(), x)                   # d/dx 3x^2 = 6x, through the reference VJP
        np.testing.assert_allclose(gg.numpy(), [6.0, 12.0])

        calls.clear()
        kernel.decline = True
        x.grad = None
        cube(x).sum().backward()
        assert calls == ["kernel forward", "reference forward", "kernel vjp", "reference vjp"]
        np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])
    finally:
        cube.kernel = None
