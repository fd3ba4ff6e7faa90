"""Add your own op in a few lines and property-test it like the built-in ones.

    python examples/custom_op.py

An op is a numpy forward plus a VJP written with Tensor ops (so gradients
of gradients work), registered by name. The Spec tells the testing kit which
inputs are valid; ``op_test`` turns the op into a Hypothesis test that checks
values, first and second derivatives against finite differences in float64,
and the engine's invariants.
"""
import numpy as np

import tinygrad_cnn as tc


@tc.defop("softplus", spec=tc.Spec(domain=(-6.0, 6.0)), replace=True)
def softplus(ctx, x):
    """softplus(x) = log(1 + exp(x)), computed without overflow."""
    return np.logaddexp(np.zeros((), dtype=x.dtype), x)


@softplus.defvjp
def softplus_vjp(ctx, grad_out):
    (x,) = ctx.inputs
    return (grad_out * x.sigmoid(),)   # Tensor ops: differentiable again


# pytest collects this: the whole property test in one line
try:
    from tinygrad_cnn.testing import op_test
    test_softplus = op_test("softplus")
except ImportError:  # the testing extra (hypothesis) is not installed
    op_test = None


if __name__ == "__main__":
    x = tc.Tensor([-2.0, 0.0, 3.0], requires_grad=True)
    y = softplus(x).sum()
    y.backward()
    print("softplus(x)      =", softplus(x).detach().numpy())
    print("d/dx softplus(x) =", x.grad.numpy(), "(= sigmoid(x))")
    (g,) = tc.grad(softplus(x).sum(), x, create_graph=True)
    (h,) = tc.grad(g.sum(), x)
    print("second derivative =", h.detach().numpy())
    if op_test is None:
        print("install the testing extra (pip install -e '.[testing]') to run the property test")
    else:
        test_softplus()   # runs the Hypothesis property test right here
        print("property test of softplus: passed")
