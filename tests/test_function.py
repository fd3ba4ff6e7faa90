"""autograd.Function: PyTorch's way of writing an op as a forward and a
backward on Tensors, built on the op registry."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.autograd import Function
from tinygrad_cnn.testing import GradcheckError, gradcheck, gradgradcheck, op_test


class Cube(Function):
    """x ** 3, with a backward written in Tensor ops (so it differentiates again)."""
    spec = tc.Spec(domain=(-2.0, 2.0))

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 3 * x * x


# the registry-driven kit tests a Function like any op (its class has a Spec)
test_cube_properties = op_test(Cube)


def test_function_values_gradients_and_grad_fn():
    x = tc.tensor([1.0, -2.0, 0.5], requires_grad=True)
    y = Cube.apply(x)
    np.testing.assert_allclose(y.detach().numpy(), [1.0, -8.0, 0.125])
    assert y.grad_fn is not None and "Cube" in y.grad_fn.name()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0, 0.75])


def test_needs_input_grad_and_constants():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, factor, b):
            seen["needs"] = ctx.needs_input_grad
            return a * factor + b

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output, None, grad_output

    a = tc.ones(2, requires_grad=True)
    b = tc.ones(2)
    Probe.apply(a, 3.0, b).sum().backward()
    assert seen["needs"] == (True, False, False)
    np.testing.assert_allclose(a.grad.numpy(), [1.0, 1.0])


def test_saved_output_and_constant_argument():
    # defined here, after collection: a Function without a Spec is not walked by
    # the registry's property tests
    class ScaledExp(Function):
        """exp(x) * scale with a constant argument; saves its output."""

        @staticmethod
        def forward(ctx, x, scale):
            out = x.exp() * scale
            ctx.save_for_backward(out)
            ctx.scale = scale
            return out

        @staticmethod
        def backward(ctx, grad_output):
            (out,) = ctx.saved_tensors
            return grad_output * out, None

    x = tc.tensor(np.array([0.0, 1.0]), requires_grad=True)
    gradcheck(lambda t: ScaledExp.apply(t, 2.5), [x])


def test_second_order_through_a_function():
    x = tc.tensor(np.array([1.5, -0.5]), requires_grad=True)
    (g,) = tc.grad(Cube.apply(x).sum(), x, create_graph=True)
    (h,) = tc.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * np.array([1.5, -0.5]))
    gradgradcheck(Cube.apply, [tc.tensor(np.array([0.3, -1.2]), requires_grad=True)])


def test_a_wrong_backward_is_caught_by_gradcheck():
    class WrongSquare(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * x       # missing the factor 2

    with pytest.raises(GradcheckError):
        gradcheck(WrongSquare.apply, [tc.tensor(np.array([1.0, 2.0]), requires_grad=True)])


def test_errors_are_clear():
    class TwoOutputs(Function):
        @staticmethod
        def forward(ctx, x):
            return x, x

        @staticmethod
        def backward(ctx, g1, g2):
            return g1

    with pytest.raises(NotImplementedError, match="TwoOutputs.forward returned 2 outputs"):
        TwoOutputs.apply(tc.ones(2, requires_grad=True))

    class TooFewGrads(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output

    out = TooFewGrads.apply(tc.ones(2, requires_grad=True), tc.ones(2, requires_grad=True))
    with pytest.raises(RuntimeError, match="returned 1 gradients but forward took 2 arguments"):
        out.sum().backward()


def test_matches_torch_function():
    torch = pytest.importorskip("torch")

    class TorchCube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * 3 * x ** 2

    values = np.linspace(-1, 1, 5).astype(np.float32)
    ours = tc.tensor(values, requires_grad=True)
    theirs = torch.tensor(values, requires_grad=True)
    Cube.apply(ours).sum().backward()
    TorchCube.apply(theirs).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6)
