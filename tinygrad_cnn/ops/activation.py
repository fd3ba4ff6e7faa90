"""Activations beyond relu/tanh/sigmoid: leaky_relu, elu, gelu, silu, and
erf (which exact gelu needs; numpy has none). Their variants are PyTorch's
``nn.functional`` functions; ``erf`` is also ``Tensor.erf`` and ``tinygrad_cnn.erf``."""
import math

import numpy as np

from ..engine import defop
from ..tensor import Tensor

# --- erf ---------------------------------------------------------------------------
# W. J. Cody's rational approximations (Math. Comp. 1969), accurate to float64
# rounding: one rational function of x^2 below 0.46875, then erfc from a
# rational function of |x| up to 4 and of 1/x^2 beyond.
_SMALL_NUM = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
              3.20937758913846947e03, 1.85777706184603153e-1)
_SMALL_DEN = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
              2.84423683343917062e03)
_MID_NUM = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
            2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
            2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_MID_DEN = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
            1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
            3.43936767414372164e03, 1.23033935480374942e03)
_BIG_NUM = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
            1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_BIG_DEN = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
            6.05183413124413191e-2, 2.33520497626869185e-3)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)


def _rational(y, num, den):
    """Cody's nested form: (num[-1] y^n + num[0] y^(n-1) + ...) / (y^n + den[0] y^(n-1) + ...)."""
    top = y * num[-1]
    bottom = y.copy()
    for a, b in zip(num[:-2], den[:-1]):
        top += a
        top *= y
        bottom += b
        bottom *= y
    top += num[-2]
    bottom += den[-1]
    return top / bottom


def _erfc_from(y):
    """erfc(y) for y >= 0.46875, without cancellation (tiny values stay exact)."""
    out = np.zeros_like(y)
    mid = y <= 4
    out[mid] = _rational(y[mid], _MID_NUM, _MID_DEN)
    big = ~mid & (y < 27)           # beyond, erfc is 0 in float64
    inv_sq = 1 / (y[big] * y[big])
    out[big] = (_INV_SQRT_PI - inv_sq * _rational(inv_sq, _BIG_NUM, _BIG_DEN)) / y[big]
    # exp(-y^2) in two factors: y^2 rounded would lose the tail's digits
    head = np.trunc(np.where(y < 27, y, 0) * 16) / 16
    return out * np.exp(-head * head) * np.exp(-(y - head) * (y + head), where=y < 27, out=np.zeros_like(y))


def _working(x: np.ndarray) -> np.ndarray:
    # float32 stays float32 (twice as fast, and as accurate as its result);
    # everything else is computed in float64
    return np.asarray(x, dtype=np.float32 if x.dtype == np.float32 else np.float64)


def erf_array(x: np.ndarray) -> np.ndarray:
    """erf elementwise, in x's float dtype (float32 for integers)."""
    z = _working(x)
    y = np.abs(z)
    out = np.empty_like(y)
    small = y <= 0.46875
    zs = z[small]
    out[small] = zs * _rational(zs * zs, _SMALL_NUM, _SMALL_DEN)
    out[~small] = np.copysign(1 - _erfc_from(y[~small]), z[~small])
    return out.astype(x.dtype if x.dtype.kind == "f" else np.float32, copy=False)


def erfc_array(x: np.ndarray) -> np.ndarray:
    """1 - erf(x), accurate for large x where the difference would cancel."""
    z = _working(x)
    y = np.abs(z)
    out = np.empty_like(y)
    small = y <= 0.46875
    zs = z[small]
    out[small] = 1 - zs * _rational(zs * zs, _SMALL_NUM, _SMALL_DEN)
    tail = _erfc_from(y[~small])
    out[~small] = np.where(z[~small] > 0, tail, 2 - tail)
    return out.astype(x.dtype if x.dtype.kind == "f" else np.float32, copy=False)


@defop("erf", saves=(0,), method=True, function=True)
def erf(ctx, x):
    """The error function 2/sqrt(pi) * integral_0^x exp(-t^2) dt, elementwise."""
    return erf_array(x)


@erf.defvjp
def erf_vjp(ctx, grad_out):
    x = ctx.inputs[0]
    return (grad_out * ((x * x).neg().exp() * (2 * _INV_SQRT_PI)),)


# --- piecewise linear / exponential ------------------------------------------------

@defop("leaky_relu", saves=(0,))
def leaky_relu(ctx, x, negative_slope=0.01):
    """x where x > 0, else negative_slope * x (the slope at 0 is negative_slope, as PyTorch's)."""
    return np.where(x > 0, x, x * x.dtype.type(negative_slope))


@leaky_relu.defvjp
def leaky_relu_vjp(ctx, grad_out):
    positive = ctx.inputs[0].data > 0
    slope = np.where(positive, 1.0, ctx.params.get("negative_slope", 0.01)).astype(grad_out.dtype)
    return (grad_out * Tensor(slope),)


@defop("elu", saves=(0,))
def elu(ctx, x, alpha=1.0):
    """x where x > 0, else alpha * (exp(x) - 1)."""
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)) * x.dtype.type(alpha))


@elu.defvjp
def elu_vjp(ctx, grad_out):
    x = ctx.inputs[0]
    alpha = ctx.params.get("alpha", 1.0)
    positive = x.data > 0
    # exp of min(x, 0): no overflow on the positive side, whose slope is 1
    negative = Tensor((~positive).astype(grad_out.dtype))
    slope = Tensor(positive.astype(grad_out.dtype)) + negative * x.clip(max=0).exp() * alpha
    return (grad_out * slope,)


# --- smooth ------------------------------------------------------------------------
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_TANH_CUBIC = 0.044715


@defop("gelu", saves=(0,))
def gelu(ctx, x, approximate="none"):
    """x * Phi(x), Phi the standard normal CDF ('none', exact, through erfc);
    'tanh': 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    if approximate == "tanh":
        inner = (x + x * x * x * x.dtype.type(_TANH_CUBIC)) * x.dtype.type(_SQRT_2_OVER_PI)
        return x * (np.tanh(inner) + 1) * x.dtype.type(0.5)
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return x * erfc_array(x * x.dtype.type(-math.sqrt(0.5))) * x.dtype.type(0.5)


@gelu.defvjp
def gelu_vjp(ctx, grad_out):
    x = ctx.inputs[0]
    if ctx.params.get("approximate", "none") == "tanh":
        inner = (x + x * x * x * _TANH_CUBIC) * _SQRT_2_OVER_PI
        t = inner.tanh()
        slope = (t + 1) * 0.5 + x * (1 - t * t) * (1 + x * x * (3 * _TANH_CUBIC)) * (0.5 * _SQRT_2_OVER_PI)
    else:
        # Phi(x) + x * phi(x)
        cdf = ((x * math.sqrt(0.5)).erf() + 1) * 0.5
        slope = cdf + x * (x * x * -0.5).exp() * (1 / math.sqrt(2 * math.pi))
    return (grad_out * slope,)


@defop("silu", saves=(0,))
def silu(ctx, x):
    """x * sigmoid(x) (also called swish)."""
    return x * ((np.tanh(x * x.dtype.type(0.5)) + 1) * x.dtype.type(0.5))


@silu.defvjp
def silu_vjp(ctx, grad_out):
    x = ctx.inputs[0]
    s = x.sigmoid()
    return (grad_out * (s * (1 + x * (1 - s))),)
