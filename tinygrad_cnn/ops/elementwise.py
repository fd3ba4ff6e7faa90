"""Elementwise ops. Binary ones broadcast as numpy does; the engine sums each
gradient back down to its input's shape, so the VJPs here are pure math."""
import numpy as np

from ..tensor import Spec, Tensor, defop, is_grad_enabled


def _mask(condition: np.ndarray, like: Tensor) -> Tensor:
    """A constant mask Tensor (its own derivative is zero). Boolean masks stay
    boolean: multiplying a float32 gradient by them gives float32 in one pass."""
    if condition.dtype == np.bool_:
        return Tensor(condition)
    return Tensor(condition.astype(like.dtype))


@defop("add", spec=Spec(nargs=2, broadcast=True), broadcast=True)
def add(ctx, a, b):
    return a + b


@add.defvjp
def add_vjp(ctx, grad_out):
    return grad_out, grad_out


@defop("sub", spec=Spec(nargs=2, broadcast=True), broadcast=True)
def sub(ctx, a, b):
    return a - b


@sub.defvjp
def sub_vjp(ctx, grad_out):
    return grad_out, (-grad_out if ctx.needs_input_grad[1] else None)


@defop("mul", spec=Spec(nargs=2, broadcast=True), broadcast=True)
def mul(ctx, a, b):
    return a * b


@mul.defvjp
def mul_vjp(ctx, grad_out):
    a, b = ctx.inputs
    need_a, need_b = ctx.needs_input_grad
    return (grad_out * b if need_a else None), (grad_out * a if need_b else None)


@defop("div", spec=Spec(nargs=2, broadcast=True, domain=[(-3, 3), (0.5, 3)]), broadcast=True)
def div(ctx, a, b):
    return a / b


@div.defvjp
def div_vjp(ctx, grad_out):
    a, b = ctx.inputs
    need_a, need_b = ctx.needs_input_grad
    grad_a = grad_out / b if need_a else None
    grad_b = -grad_out * a / (b * b) if need_b else None
    return grad_a, grad_b


@defop("neg", spec=Spec())
def neg(ctx, x):
    return -x


@neg.defvjp
def neg_vjp(ctx, grad_out):
    return (-grad_out,)


@defop("pow", spec=Spec(nargs=2, broadcast=True, domain=[(0.5, 2.5), (-2, 2)]), broadcast=True)
def pow(ctx, base, exponent):
    return np.power(base, exponent)


@pow.defvjp
def pow_vjp(ctx, grad_out):
    base, exponent = ctx.inputs
    need_base, need_exp = ctx.needs_input_grad
    if not need_base:
        grad_base = None
    elif not need_exp and exponent.ndim == 0 and exponent.data == 2:
        grad_base = grad_out * (base * 2)   # x ** 2, the common case: two ops instead of four
    else:
        grad_base = grad_out * exponent * base ** (exponent - 1)
    # d(b**e)/de = b**e * log(b): only defined for b > 0, so only computed on request
    grad_exp = grad_out * ctx.out * base.log() if need_exp else None
    return grad_base, grad_exp


@defop("exp", spec=Spec())
def exp(ctx, x):
    return np.exp(x)


@exp.defvjp
def exp_vjp(ctx, grad_out):
    return (grad_out * ctx.out,)


@defop("log", spec=Spec(domain=(0.2, 4)))
def log(ctx, x):
    return np.log(x)


@log.defvjp
def log_vjp(ctx, grad_out):
    return (grad_out / ctx.inputs[0],)


@defop("sqrt", spec=Spec(domain=(0.2, 4)))
def sqrt(ctx, x):
    return np.sqrt(x)


@sqrt.defvjp
def sqrt_vjp(ctx, grad_out):
    return (grad_out / (ctx.out * 2),)


@defop("tanh", spec=Spec())
def tanh(ctx, x):
    return np.tanh(x)


@tanh.defvjp
def tanh_vjp(ctx, grad_out):
    out = ctx.out
    if not is_grad_enabled():
        # plain backward (no create_graph): one numpy expression instead of
        # three recorded ops; the property tests check both branches
        return (Tensor(grad_out.data * (1 - out.data * out.data)),)
    return (grad_out * (1 - out * out),)


@defop("sigmoid", spec=Spec(domain=(-6, 6)))
def sigmoid(ctx, x):
    # 0.5 * (1 + tanh(x / 2)) is sigmoid without overflow for large |x|
    return (np.tanh(x * 0.5) + 1) * 0.5 if x.dtype.kind == "f" else 1 / (1 + np.exp(-x))


@sigmoid.defvjp
def sigmoid_vjp(ctx, grad_out):
    out = ctx.out
    if not is_grad_enabled():   # see tanh_vjp
        return (Tensor(grad_out.data * out.data * (1 - out.data)),)
    return (grad_out * out * (1 - out),)


@defop("relu", spec=Spec(avoid=(0.0,)))
def relu(ctx, x):
    return np.maximum(x, 0)


@relu.defvjp
def relu_vjp(ctx, grad_out):
    # the gradient at exactly 0 is taken as 0, as in PyTorch
    return (grad_out * _mask(ctx.out.data > 0, grad_out),)


@defop("abs", spec=Spec(avoid=(0.0,)))
def abs(ctx, x):
    return np.abs(x)


@abs.defvjp
def abs_vjp(ctx, grad_out):
    return (grad_out * _mask(np.sign(ctx.inputs[0].data), grad_out),)


def _split_ties(a: np.ndarray, b: np.ndarray, like: Tensor):
    """Masks for maximum(a, b): 1 where a wins, 0 where b wins, 1/2 each on a tie."""
    wins = (a > b).astype(like.dtype)
    ties = (a == b).astype(like.dtype)
    return Tensor(wins + 0.5 * ties), Tensor((1 - wins) - 0.5 * ties)


@defop("maximum", spec=Spec(nargs=2, broadcast=True, distinct=True), broadcast=True)
def maximum(ctx, a, b):
    return np.maximum(a, b)


@maximum.defvjp
def maximum_vjp(ctx, grad_out):
    a, b = ctx.inputs
    mask_a, mask_b = _split_ties(a.data, b.data, grad_out)
    return grad_out * mask_a, grad_out * mask_b


@defop("minimum", spec=Spec(nargs=2, broadcast=True, distinct=True), broadcast=True)
def minimum(ctx, a, b):
    return np.minimum(a, b)


@minimum.defvjp
def minimum_vjp(ctx, grad_out):
    a, b = ctx.inputs
    mask_a, mask_b = _split_ties(b.data, a.data, grad_out)
    return grad_out * mask_a, grad_out * mask_b


@defop("clip", spec=Spec(cases="tinygrad_cnn.testing.cases:clip_cases"))
def clip(ctx, x, min=None, max=None):
    if min is not None and max is not None and min > max:
        raise ValueError(f"clip: min ({min}) is greater than max ({max})")
    lo = None if min is None else np.asarray(min, dtype=x.dtype)
    hi = None if max is None else np.asarray(max, dtype=x.dtype)
    return np.clip(x, lo, hi)


@clip.defvjp
def clip_vjp(ctx, grad_out):
    x = ctx.inputs[0].data
    lo, hi = ctx.params.get("min"), ctx.params.get("max")
    inside = np.ones(x.shape, dtype=bool)
    # the bounds themselves pass the gradient, as in PyTorch's clamp
    if lo is not None:
        inside &= x >= lo
    if hi is not None:
        inside &= x <= hi
    return (grad_out * _mask(inside, grad_out),)


@defop("astype", spec=Spec(cases="tinygrad_cnn.testing.cases:astype_cases", keeps_dtype=False))
def astype(ctx, x, dtype):
    return x.astype(dtype)


@astype.defvjp
def astype_vjp(ctx, grad_out):
    return (grad_out.astype(ctx.inputs[0].dtype),)
