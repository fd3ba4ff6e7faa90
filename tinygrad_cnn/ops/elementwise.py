"""Elementwise ops. Binary ones broadcast as numpy does; the engine sums each
gradient back down to its input's shape, so the VJPs here are pure math.
Each is also ``Tensor.<name>`` and ``tinygrad_cnn.<name>``."""
import numpy as np

from ..engine import add_variant, apply, defop, get_op
from ..tensor import Tensor, _wrap


def _mask(condition: np.ndarray, like: Tensor) -> Tensor:
    """A constant mask Tensor (its own derivative is zero). Boolean masks stay
    boolean: multiplying a float32 gradient by them gives float32 in one pass."""
    if condition.dtype == np.bool_:
        return Tensor(condition)
    return Tensor(condition.astype(like.dtype))


@defop("add", broadcast=True, saves=(), method=True, function=True)
def add(ctx, a, b):
    """a + b (broadcasting)."""
    return a + b


@add.defvjp
def add_vjp(ctx, grad_out):
    return grad_out, grad_out


@defop("sub", broadcast=True, saves=(), method=True, function=True)
def sub(ctx, a, b):
    """a - b (broadcasting)."""
    return a - b


@sub.defvjp
def sub_vjp(ctx, grad_out):
    return grad_out, (-grad_out if ctx.needs_input_grad[1] else None)


@defop("mul", broadcast=True, saves=(0, 1), method=True, function=True)
def mul(ctx, a, b):
    """a * b (broadcasting)."""
    return a * b


@mul.defvjp
def mul_vjp(ctx, grad_out):
    a, b = ctx.inputs
    need_a, need_b = ctx.needs_input_grad
    return (grad_out * b if need_a else None), (grad_out * a if need_b else None)


@defop("div", broadcast=True, saves=(0, 1))
def div(ctx, a, b):
    """a / b (broadcasting; the variant turns integer division into float32)."""
    return a / b


@div.defvjp
def div_vjp(ctx, grad_out):
    a, b = ctx.inputs
    need_a, need_b = ctx.needs_input_grad
    grad_a = grad_out / b if need_a else None
    grad_b = -grad_out * a / (b * b) if need_b else None
    return grad_a, grad_b


@defop("neg", saves=(), method=True, function=True)
def neg(ctx, x):
    """-x."""
    return -x


@neg.defvjp
def neg_vjp(ctx, grad_out):
    return (-grad_out,)


@defop("pow", broadcast=True, method=True, function=True)
def pow(ctx, base, exponent):
    """base ** exponent (broadcasting)."""
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


@defop("exp", saves=("out",), method=True, function=True)
def exp(ctx, x):
    """e ** x, elementwise."""
    return np.exp(x)


@exp.defvjp
def exp_vjp(ctx, grad_out):
    return (grad_out * ctx.out,)


@defop("log", saves=(0,), method=True, function=True)
def log(ctx, x):
    """Natural logarithm, elementwise."""
    return np.log(x)


@log.defvjp
def log_vjp(ctx, grad_out):
    return (grad_out / ctx.inputs[0],)


@defop("sqrt", saves=("out",), method=True, function=True)
def sqrt(ctx, x):
    """Square root, elementwise."""
    return np.sqrt(x)


@sqrt.defvjp
def sqrt_vjp(ctx, grad_out):
    return (grad_out / (ctx.out * 2),)


@defop("tanh", saves=("out",), method=True, function=True)
def tanh(ctx, x):
    """Hyperbolic tangent, elementwise."""
    return np.tanh(x)


@tanh.defvjp
def tanh_vjp(ctx, grad_out):
    out = ctx.out
    return (grad_out * (1 - out * out),)


@defop("sigmoid", saves=("out",), method=True, function=True)
def sigmoid(ctx, x):
    """1 / (1 + e ** -x), elementwise."""
    # 0.5 * (1 + tanh(x / 2)) is sigmoid without overflow for large |x|
    return (np.tanh(x * 0.5) + 1) * 0.5 if x.dtype.kind == "f" else 1 / (1 + np.exp(-x))


@sigmoid.defvjp
def sigmoid_vjp(ctx, grad_out):
    out = ctx.out
    return (grad_out * out * (1 - out),)


@defop("relu", saves=("out",), method=True, function=True)
def relu(ctx, x):
    """max(x, 0), elementwise."""
    return np.maximum(x, 0)


@relu.defvjp
def relu_vjp(ctx, grad_out):
    # the gradient at exactly 0 is taken as 0, as in PyTorch
    return (grad_out * _mask(ctx.out.data > 0, grad_out),)


@defop("abs", saves=(0,), method=True, function=True)
def abs(ctx, x):
    """|x|, elementwise."""
    return np.abs(x)


@abs.defvjp
def abs_vjp(ctx, grad_out):
    return (grad_out * _mask(np.sign(ctx.inputs[0].data), grad_out),)


def _split_ties(a: np.ndarray, b: np.ndarray, like: Tensor):
    """Masks for maximum(a, b): 1 where a wins, 0 where b wins, 1/2 each on a tie."""
    wins = (a > b).astype(like.dtype)
    ties = (a == b).astype(like.dtype)
    return Tensor(wins + 0.5 * ties), Tensor((1 - wins) - 0.5 * ties)


@defop("maximum", broadcast=True, saves=(0, 1), method=True, function=True)
def maximum(ctx, a, b):
    """The larger of a and b, elementwise (broadcasting)."""
    return np.maximum(a, b)


@maximum.defvjp
def maximum_vjp(ctx, grad_out):
    a, b = ctx.inputs
    mask_a, mask_b = _split_ties(a.data, b.data, grad_out)
    return grad_out * mask_a, grad_out * mask_b


@defop("minimum", broadcast=True, saves=(0, 1), method=True, function=True)
def minimum(ctx, a, b):
    """The smaller of a and b, elementwise (broadcasting)."""
    return np.minimum(a, b)


@minimum.defvjp
def minimum_vjp(ctx, grad_out):
    a, b = ctx.inputs
    mask_a, mask_b = _split_ties(b.data, a.data, grad_out)
    return grad_out * mask_a, grad_out * mask_b


@defop("clip", saves=(0,))
def clip(ctx, x, min=None, max=None):
    """x limited to [min, max] (either bound may be None)."""
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


@defop("astype", saves=())
def astype(ctx, x, dtype):
    """x converted to ``dtype``; the gradient is converted back."""
    return x.astype(dtype)


@astype.defvjp
def astype_vjp(ctx, grad_out):
    return (grad_out.astype(ctx.inputs[0].dtype),)


@clip.variant(name="clamp")
def clamp(input, min=None, max=None):
    """Limit values to [min, max] (either bound may be None)."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        raise TypeError("clamp: tensor bounds are not supported; use maximum()/minimum()")
    return apply(clip, input, min=min, max=max)


clip.variant(clamp, name="clip")


@div.variant
def div(input, other, rounding_mode=None):
    """True division (integers divide to float32, as in PyTorch);
    ``rounding_mode='floor'`` or ``'trunc'`` gives no gradient."""
    if not isinstance(input, Tensor):
        input = Tensor(input)
    a, b = input._operands(other)
    if a.data.dtype.kind != "f" and b.data.dtype.kind != "f":
        a, b = a._cast(np.float32), b._cast(np.float32)
    if rounding_mode is not None:
        if rounding_mode not in ("floor", "trunc"):
            raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")
        rounded = (np.floor if rounding_mode == "floor" else np.trunc)(a.data / b.data)
        return _wrap(rounded.astype(np.result_type(input.data.dtype, b.data.dtype)))
    return apply(get_op("div"), a, b)


add_variant("divide", div)


@add_variant
def square(input):
    """input ** 2, elementwise (as PyTorch, through pow: grad_fn PowBackward0)."""
    input = input if isinstance(input, Tensor) else Tensor(input)
    return input ** 2


@defop("sin", saves=(0,), method=True, function=True)
def sin(ctx, x):
    """Sine, elementwise."""
    return np.sin(x)


@sin.defvjp
def sin_vjp(ctx, grad_out):
    return (grad_out * ctx.inputs[0].cos(),)


@defop("cos", saves=(0,), method=True, function=True)
def cos(ctx, x):
    """Cosine, elementwise."""
    return np.cos(x)


@cos.defvjp
def cos_vjp(ctx, grad_out):
    return (-grad_out * ctx.inputs[0].sin(),)


@add_variant
def sign(input):
    """-1, 0 or 1 by the sign of each element (a step: no gradient flows)."""
    input = input if isinstance(input, Tensor) else Tensor(input)
    return _wrap(np.sign(input.data))


@defop("round", saves=())
def round(ctx, x, decimals=None):
    """To the nearest integer, halves to the even one (``round(2.5) == 2``);
    ``decimals`` digits after the point (negative: before it), computed as
    PyTorch does, ``rint(x * 10**decimals) / 10**decimals`` in the input's dtype."""
    if x.dtype.kind != "f":
        return x.copy()
    if decimals is not None:
        ctx.node_name = "RoundBackward1"     # PyTorch's overload with decimals=
    if not decimals:
        return np.rint(x)
    scale = x.dtype.type(10.0 ** abs(decimals))
    return np.rint(x * scale) / scale if decimals > 0 else np.rint(x / scale) * scale


@round.defvjp
def round_vjp(ctx, grad_out):
    # a step function: zero almost everywhere, as PyTorch's gradient
    return (_wrap(np.zeros(grad_out.shape, dtype=grad_out.dtype)),)


@round.variant
def round(input, *, decimals=None):
    """Elementwise rounding to ``decimals`` digits (halves to even, as PyTorch)."""
    input = input if isinstance(input, Tensor) else Tensor(input)
    if decimals is None:
        return apply(get_op("round"), input)
    if input.data.dtype.kind != "f":
        raise NotImplementedError(f"round: decimals={decimals} is only supported for floating "
                                  f"point tensors, got dtype {input.dtype}")
    return apply(get_op("round"), input, decimals=int(decimals))


def _constant_like(value, like: Tensor) -> Tensor:
    if isinstance(value, Tensor):
        return value
    return _wrap(np.asarray(value, dtype=like.data.dtype if like.data.dtype.kind == "f"
                            or not isinstance(value, float) else np.float32))


@defop("where", broadcast=True, saves=(0,))
def where(ctx, condition, x, y):
    """``x`` where ``condition`` holds, else ``y`` (all three broadcast)."""
    if condition.dtype != np.bool_:
        raise ValueError(f"where: condition must be a bool tensor, got dtype {condition.dtype}")
    return np.where(condition, x, y)


@where.defvjp
def where_vjp(ctx, grad_out):
    condition = ctx.inputs[0].data
    zero = Tensor(np.zeros((), dtype=grad_out.dtype))
    needs = ctx.needs_input_grad
    keep = Tensor(condition)
    return (None,
            apply(where, keep, grad_out, zero) if needs[1] else None,
            apply(where, keep, zero, grad_out) if needs[2] else None)


@where.variant(method=False)
def where_function(condition, input=None, other=None):
    """``where(condition, x, y)``; ``where(condition)`` gives the indices of
    the true elements, one tensor per dimension."""
    condition = condition if isinstance(condition, Tensor) else Tensor(np.asarray(condition))
    if input is None and other is None:
        return tuple(_wrap(i) for i in np.nonzero(condition.data))
    like = input if isinstance(input, Tensor) else other if isinstance(other, Tensor) else None
    if like is None:
        like = Tensor(np.asarray(input))
    x, y = _constant_like(input, like), _constant_like(other, like)
    if x.data.dtype != y.data.dtype:
        x, y = x._operands(y)
    return apply(get_op("where"), condition._cast(np.bool_), x, y)


@get_op("where").variant(function=False)
def where_method(input, condition, other):
    """``x.where(condition, y)``: PyTorch's method form of ``where``."""
    return where_function(condition, input, other)
