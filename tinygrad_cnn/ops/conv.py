"""Convolution and its two adjoints, as the math states them.

    conv2d(x, w)            y[n, f, i, j] = sum over c, p, q of
                                x_padded[n, c, i*s + p*d, j*s + q*d] * w[f, c, p, q]
    conv_transpose2d(g, w)  the adjoint in x: each g[n, f, i, j] * w[f, c, p, q] is added back
                            to the input position that the forward read it from
    conv2d_weight(x, g)     the adjoint in w: dw[f, c, p, q] = sum over n, i, j of
                                x_padded[n, c, i*s + p*d, j*s + q*d] * g[n, f, i, j]

The three ops close under differentiation (each VJP is written with the other two), so
gradients of gradients work. The forwards are the plainest numpy: the windows of the padded
input as a strided view (``as_strided``: no copy), and one ``einsum`` over them.
``tinygrad_cnn.kernels.conv`` has the fast versions (chunked im2col matrices in channels-last
memory, one BLAS product per chunk), tested against these.

Layouts are PyTorch's: x (N, C, H, W), w (F, C // groups, KH, KW), output (N, F, OH, OW) with
OH = (H + 2*padding - dilation*(KH - 1) - 1) // stride + 1.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from .._args import conv_output_size
from ..engine import defop
from ..errors import ShapeError


# --- shape checks (shared with the kernels) ----------------------------------------------------

def check_conv2d(x_shape, w_shape, stride, padding, dilation, groups, bias_shape=None):
    """Validate conv2d's arguments; return the output's (OH, OW)."""
    if len(x_shape) != 4:
        raise ShapeError(f"conv2d: input must be 4-D (N, C, H, W), got shape {tuple(x_shape)}")
    if len(w_shape) != 4:
        raise ShapeError(f"conv2d: weight must be 4-D (F, C/groups, KH, KW), got shape {tuple(w_shape)}")
    n, c, h, width = x_shape
    f, cg, kh, kw = w_shape
    if groups < 1 or c % groups:
        raise ShapeError(f"conv2d: groups={groups} does not divide the input's {c} channels")
    if c != cg * groups:
        expects = f"{cg}" if groups == 1 else f"{cg} per group x {groups} groups = {cg * groups}"
        raise ShapeError(f"conv2d: input has {c} channels but weight expects {expects} "
                         f"(input shape {tuple(x_shape)}, weight shape {tuple(w_shape)})")
    if f % groups:
        raise ShapeError(f"conv2d: groups={groups} does not divide the weight's {f} output channels")
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ShapeError(f"conv2d: stride and dilation must be >= 1 and padding >= 0, got stride {stride}, "
                         f"dilation {dilation}, padding {padding}")
    out_h = conv_output_size(h, kh, stride[0], padding[0], dilation[0])
    out_w = conv_output_size(width, kw, stride[1], padding[1], dilation[1])
    if out_h < 1 or out_w < 1:
        raise ShapeError(f"conv2d: kernel {kh}x{kw} (dilation {dilation}) is larger than the padded input "
                         f"{h + 2 * padding[0]}x{width + 2 * padding[1]} (input shape {tuple(x_shape)}, "
                         f"padding {padding}, stride {stride})")
    if bias_shape is not None and tuple(bias_shape) != (f,):
        raise ShapeError(f"conv2d: bias has shape {tuple(bias_shape)}, expected ({f},)")
    return out_h, out_w


def check_conv_transpose2d(g_shape, w_shape, stride, padding, dilation, groups, output_padding):
    """Validate conv_transpose2d's arguments; return the output's (OH, OW)."""
    if len(g_shape) != 4 or len(w_shape) != 4:
        raise ShapeError(f"conv_transpose2d: input {tuple(g_shape)} and weight {tuple(w_shape)} must be "
                         "4-D: (N, C_in, H, W) and (C_in, C_out/groups, KH, KW)")
    n, c_in, h, width = g_shape
    w_in, _, kh, kw = w_shape
    if groups < 1 or c_in % groups:
        raise ShapeError(f"conv_transpose2d: groups={groups} does not divide the input's {c_in} channels")
    if c_in != w_in:
        raise ShapeError(f"conv_transpose2d: input has {c_in} channels but weight expects {w_in} "
                         f"(input shape {tuple(g_shape)}, weight shape {tuple(w_shape)})")
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0 or min(output_padding) < 0:
        raise ValueError(f"conv_transpose2d: invalid geometry stride {stride}, padding {padding}, "
                         f"dilation {dilation}, output_padding {output_padding}")
    # (PyTorch also accepts output_padding < dilation; below the stride this op is exactly
    # the adjoint of conv2d)
    if output_padding[0] >= stride[0] or output_padding[1] >= stride[1]:
        raise ValueError(f"conv_transpose2d: output_padding {output_padding} must be smaller than "
                         f"stride {stride}")
    out_h = (h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + output_padding[0] + 1
    out_w = (width - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + output_padding[1] + 1
    if out_h < 1 or out_w < 1:
        raise ShapeError(f"conv_transpose2d: geometry gives an empty output ({out_h}x{out_w}) for "
                         f"input shape {tuple(g_shape)} and weight shape {tuple(w_shape)}")
    return out_h, out_w


def check_conv2d_weight(x_shape, g_shape, weight_shape, stride, padding, dilation, groups):
    if len(x_shape) != 4 or len(g_shape) != 4 or len(weight_shape) != 4:
        raise ValueError(f"conv2d_weight: input {tuple(x_shape)}, upstream gradient {tuple(g_shape)} and "
                         f"weight shape {tuple(weight_shape)} must all be 4-D")
    f, cg, kh, kw = weight_shape
    n, c, h, width = x_shape
    expected = (n, f, conv_output_size(h, kh, stride[0], padding[0], dilation[0]),
                conv_output_size(width, kw, stride[1], padding[1], dilation[1]))
    if tuple(g_shape) != expected or c != cg * groups:
        raise ValueError(f"conv2d_weight: input {tuple(x_shape)} and upstream gradient {tuple(g_shape)} do "
                         f"not fit weight shape {tuple(weight_shape)} (expected gradient shape {expected})")


# --- the math ------------------------------------------------------------------------------------

def windows(x, kernel, stride, padding, dilation, out_size):
    """The (N, C, OH, OW, KH, KW) view of zero-padded x whose [n, c, i, j] entry is the window
    that output pixel (i, j) reads (read-only; the only copy is the padding)."""
    x = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    sn, sc, sh, sw = x.strides
    shape = x.shape[:2] + tuple(out_size) + tuple(kernel)
    strides = (sn, sc, sh * stride[0], sw * stride[1], sh * dilation[0], sw * dilation[1])
    return as_strided(x, shape, strides, writeable=False)


def _grouped(array, groups, axis):
    """Split ``axis`` of ``array`` into (groups, size // groups)."""
    shape = array.shape
    return array.reshape(shape[:axis] + (groups, shape[axis] // groups) + shape[axis + 1:])


def conv2d_reference(x, w, bias, stride, padding, dilation, groups):
    out_size = check_conv2d(x.shape, w.shape, stride, padding, dilation, groups,
                            None if bias is None else bias.shape)
    cols = _grouped(windows(x, w.shape[2:], stride, padding, dilation, out_size), groups, 1)
    # n batch, g group, c channel in group, i j output pixel, p q kernel offset, f filter in group
    out = np.einsum("ngcijpq,gfcpq->ngfij", cols, _grouped(w, groups, 0), optimize=True)
    out = out.reshape(x.shape[0], w.shape[0], *out_size)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return out.astype(np.result_type(x.dtype, w.dtype), copy=False)


def conv_transpose2d_reference(g, w, stride, padding, dilation, groups, output_padding):
    out_h, out_w = check_conv_transpose2d(g.shape, w.shape, stride, padding, dilation, groups, output_padding)
    n, c_in, h, width = g.shape
    kh, kw = w.shape[2:]
    # every (input pixel, kernel offset) pair's contribution, channels mixed per group
    parts = np.einsum("ngfij,gfcpq->ngcijpq", _grouped(g, groups, 1), _grouped(w, groups, 0), optimize=True)
    parts = parts.reshape(n, -1, h, width, kh, kw)
    # scatter-add each kernel offset's contributions to the positions the forward read them from
    top, left = padding
    padded = np.zeros((n, parts.shape[1], out_h + 2 * top, out_w + 2 * left), dtype=np.result_type(g, w))
    for p in range(kh):
        for q in range(kw):
            rows = slice(p * dilation[0], p * dilation[0] + (h - 1) * stride[0] + 1, stride[0])
            cols = slice(q * dilation[1], q * dilation[1] + (width - 1) * stride[1] + 1, stride[1])
            padded[:, :, rows, cols] += parts[:, :, :, :, p, q]
    return padded[:, :, top:top + out_h, left:left + out_w]


def conv2d_weight_reference(x, g, weight_shape, stride, padding, dilation, groups):
    check_conv2d_weight(x.shape, g.shape, weight_shape, stride, padding, dilation, groups)
    cols = _grouped(windows(x, weight_shape[2:], stride, padding, dilation, g.shape[2:]), groups, 1)
    grad = np.einsum("ngcijpq,ngfij->gfcpq", cols, _grouped(g, groups, 1), optimize=True)
    return grad.reshape(weight_shape).astype(np.result_type(x.dtype, g.dtype), copy=False)


def output_padding_for(input_shape, weight_shape, stride, padding, dilation):
    """The output_padding that makes conv_transpose2d give back ``input_shape``: the rows and
    columns that a strided window never reached (their gradient is zero)."""
    result = []
    for axis in (0, 1):
        size, kernel = input_shape[2 + axis], weight_shape[2 + axis]
        out = conv_output_size(size, kernel, stride[axis], padding[axis], dilation[axis])
        result.append(size - ((out - 1) * stride[axis] - 2 * padding[axis] + dilation[axis] * (kernel - 1) + 1))
    return tuple(result)


def _geometry(params):
    return {k: params[k] for k in ("stride", "padding", "dilation", "groups")}


# --- the ops --------------------------------------------------------------------------------------

@defop("conv2d", saves=(0, 1))
def conv2d(ctx, x, w, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """x (N, C, H, W), w (F, C/groups, KH, KW), optional bias (F,) -> (N, F, OH, OW)."""
    return conv2d_reference(x, w, bias, stride, padding, dilation, groups)


@conv2d.defvjp
def conv2d_vjp(ctx, grad_out):
    x, w = ctx.inputs[:2]
    geometry = _geometry(ctx.params)
    needs = ctx.needs_input_grad
    grad_x = conv_transpose2d(grad_out, w, **geometry, output_padding=output_padding_for(
        x.shape, w.shape, geometry["stride"], geometry["padding"], geometry["dilation"])) if needs[0] else None
    grad_w = conv2d_weight(x, grad_out, weight_shape=w.shape, **geometry) if needs[1] else None
    grad_b = grad_out.sum((0, 2, 3)) if len(needs) > 2 and needs[2] else None
    return grad_x, grad_w, grad_b


@defop("conv_transpose2d", saves=(0, 1))
def conv_transpose2d(ctx, g, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
                     output_padding=(0, 0)):
    """g (N, C_in, H, W), w (C_in, C_out/groups, KH, KW) ->
    (N, C_out, (H-1)*stride - 2*padding + dilation*(KH-1) + output_padding + 1, ...)."""
    return conv_transpose2d_reference(g, w, stride, padding, dilation, groups, output_padding)


@conv_transpose2d.defvjp
def conv_transpose2d_vjp(ctx, grad_out):
    g, w = ctx.inputs
    geometry = _geometry(ctx.params)
    grad_g = conv2d(grad_out, w, **geometry) if ctx.needs_input_grad[0] else None
    # conv_transpose2d(g, w) is the input gradient of conv2d(y, w) at upstream g, so its weight
    # gradient is that conv's weight gradient: y's gradient correlated with g
    grad_w = conv2d_weight(grad_out, g, weight_shape=w.shape, **geometry) if ctx.needs_input_grad[1] else None
    return grad_g, grad_w


@defop("conv2d_weight", saves=(0, 1))
def conv2d_weight(ctx, x, g, weight_shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """The weight gradient of conv2d: x (N, C, H, W) correlated with g (N, F, OH, OW)."""
    return conv2d_weight_reference(x, g, tuple(weight_shape), stride, padding, dilation, groups)


@conv2d_weight.defvjp
def conv2d_weight_vjp(ctx, grad_out):
    x, g = ctx.inputs
    geometry = _geometry(ctx.params)
    grad_x = conv_transpose2d(g, grad_out, **geometry, output_padding=output_padding_for(
        x.shape, grad_out.shape, geometry["stride"], geometry["padding"], geometry["dilation"])) \
        if ctx.needs_input_grad[0] else None
    grad_g = conv2d(x, grad_out, **geometry) if ctx.needs_input_grad[1] else None
    return grad_x, grad_g
