"""Every registered op -- built-in or added by a user before the tests run --
is property-tested here through the registry, with the public testing kit."""
import pytest
from hypothesis import given, strategies as st

import tinygrad_cnn as tc
from tinygrad_cnn.testing import cases_for, check_op

OP_NAMES = sorted(tc.registered_ops())


def test_registry_is_populated():
    for name in ["add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sqrt", "tanh", "sigmoid",
                 "relu", "abs", "maximum", "minimum", "clip", "sum", "mean", "amax", "amin", "var",
                 "reshape", "permute", "flatten", "broadcast_to", "pad", "getitem", "concatenate",
                 "stack", "matmul"]:
        assert name in OP_NAMES


@pytest.mark.parametrize("name", OP_NAMES)
def test_op_has_vjp_and_spec(name):
    op = tc.get_op(name)
    assert op.vjp_fn is not None, f"{name} has no VJP"
    assert op.spec is not None, f"{name} has no Spec, so no property test"
    cases_for(op)  # the strategy can be built


@pytest.mark.parametrize("name", OP_NAMES)
@given(data=st.data())
def test_op_properties(name, data):
    op = tc.get_op(name)
    case = data.draw(cases_for(op), label=f"{name} case")
    check_op(op, case)
