"""Winograd minimal filtering F(4x4, 3x3) and F(4x4, 5x5): a stride-1 convolution with fewer
multiplications, for layers with many channels (``kernels.conv`` chooses it by shape).

In one dimension, four outputs of a correlation with an r-tap filter g, read from a tile d of
a = 4 + r - 1 inputs, are

    y = AT @ ((G @ g) * (BT @ d))

(Toom-Cook: evaluate at a - 1 points and infinity, multiply pointwise, interpolate back). In
two dimensions each a x a input tile (tiles overlap by r - 1) is transformed as BT d B, each
filter as G g GT, the channels are mixed at every one of the a*a transform points by one batched
matrix product, (a*a, tiles, C) @ (a*a, C, F), and each result goes back as AT m A, a 4x4
output tile. For a 5x5 filter that is 64 products per 16 outputs instead of 400: the products
shrink ~4.8x (1.4x of it lost where the output is not a multiple of 4), and the transforms are
small matrix products over channels-last tiles, memory-bound passes that numpy runs well.

The two gradients are the same algorithm's adjoint, sharing one transform of the upstream
gradient gm = A dy AT (per 4x4 tile):

    grad of U (transformed filter)   dU = V^T gm       (a*a, C, F), summed over tiles
    grad of V (transformed input)    dV = gm U^T       (a*a, tiles, C)
    weight gradient                  GT dU G           (F, C, r, r)
    input gradient                   B dV BT, its overlapping a x a tiles added back

so the backward is two batched products, and the input's transform V is recomputed from the
input rather than kept from the forward (it is as large as the input's tiles, 4x the input).
All passes run over a few images at a time (``chunk_budget`` values of V or of the products),
so each intermediate is still in the cache when the next pass reads it.

Rounding: the transforms' entries reach 8 (AT) and 5.25 (BT) and 1/90 (G), so float32 results
differ from the exact values by ~5e-6 of each result's largest magnitude (forward and both
gradients, 3x3 and 5x5, measured on 32 -> 64 channels at 14x14), against ~5e-7 for a float32
direct sum; tests/test_conv_algorithms.py bounds it at 1e-4. In float64 the difference is
~1e-14, well inside the kernel tests' rtol of 1e-9.
"""
from fractions import Fraction
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import as_strided

TILE = 4
# the finite evaluation points per filter size (a - 1 of them; infinity is the last): small
# integers and halves keep the transforms' entries, and so the rounding, small
_POINTS = {3: (0, 1, -1, 2, -2), 5: (0, 1, -1, 2, -2, Fraction(1, 2), Fraction(-1, 2))}
KERNEL_SIZES = tuple(_POINTS)

# values of a chunk's largest intermediate (2 MiB of float32). Measured in the seed ConvNet's
# training step at batch 100 on the 2-core AVX2 machine, each step after a 0.3 s pause as the
# benchmark runs it, budgets alternating in one process (medians of 20 steps): 122-128 ms at 128k
# values, 117 at 256k, 105-112 at 512k, 109 at 768k, 111 at 1M; the forward's and the gradients'
# shares were alike (6-7 ms each). Larger chunks mean fewer and taller products (64 per chunk)
# and fewer numpy calls per thread. An earlier choice of 128k came from calls timed back to back
# (forward / both gradients 14 / 31 ms at 128k, 17 / 32 at 256k, 31 / 57 at 1M), which the
# training step does not reproduce. Each intermediate is freed as soon as it is used, and the
# callers in kernels/conv.py pad their input one chunk at a time (``chunks``): the peak memory
# of the benchmark's first seven steps is 116.7 MiB, against 118.0 at 128k before (125.9 at
# 512k with neither, 120.4 with the frees alone)
_CHUNK_BUDGET = 1 << 19


def _polynomial(roots):
    """Coefficients (ascending powers) of the product of (x - root)."""
    coefficients = [Fraction(1)]
    for root in roots:
        shifted = [Fraction(0)] + coefficients
        coefficients = [shifted[i] - root * (coefficients[i] if i < len(coefficients) else 0)
                        for i in range(len(shifted))]
    return coefficients


@lru_cache(maxsize=None)
def _exact_transforms(r, m=TILE):
    """AT (m, a), G (a, r), BT (a, a) of F(m, r), in exact fractions.

    Correlation is the transpose of polynomial multiplication, whose Toom-Cook form is
    s = C [(Eg g) * (Eh h)]: Eg, Eh Vandermonde matrices of the points (last row: the leading
    coefficient, the point at infinity), C the Lagrange interpolation (last column: the product
    of all (x - p)). So AT = Eh^T, BT = C^T, and C's scale factors move into G."""
    points = [Fraction(p) for p in _POINTS[r]]
    a = m + r - 1
    at = [[p ** i for p in points] + [Fraction(int(i == m - 1))] for i in range(m)]
    g, bt = [], []
    for j, p in enumerate(points):
        others = points[:j] + points[j + 1:]
        scale = Fraction(1)
        for q in others:
            scale *= p - q
        g.append([p ** k / scale for k in range(r)])
        bt.append(_polynomial(others) + [Fraction(0)])
    g.append([Fraction(int(k == r - 1)) for k in range(r)])
    bt.append(_polynomial(points))
    assert len(bt) == a and all(len(row) == a for row in bt)
    return at, g, bt


@lru_cache(maxsize=None)
def transforms(r, dtype):
    """(AT, G, BT) of F(4x4, r x r) as arrays of ``dtype``."""
    return tuple(np.array([[float(v) for v in row] for row in matrix], dtype=dtype)
                 for matrix in _exact_transforms(r))


def tile_grid(out_h, out_w):
    """Tiles per column and row covering an (out_h, out_w) output."""
    return -(-out_h // TILE), -(-out_w // TILE)


def input_padding(h, w, padding, r):
    """(top, bottom, left, right) zero padding of an (h, w) input whose a x a tiles cover the
    tile grid (the bottom and right sides get what the last tiles overhang)."""
    out_h, out_w = h + 2 * padding[0] - r + 1, w + 2 * padding[1] - r + 1
    tiles_h, tiles_w = tile_grid(out_h, out_w)
    return (padding[0], tiles_h * TILE + r - 1 - h - padding[0],
            padding[1], tiles_w * TILE + r - 1 - w - padding[1])


def _both_sides(matrix, t):
    """matrix @ t @ matrix.T over t's first two axes: t (k, k, rest...) -> (j, j, prod(rest))
    for a (j, k) matrix, as two products over contiguous rows."""
    k = t.shape[0]
    half = (matrix @ t.reshape(k, -1)).reshape(matrix.shape[0], k, -1)
    return np.matmul(matrix, half)


def _tiles(buffer, size, tiles_h, tiles_w):
    """(size, size, N, tiles_h, tiles_w, C) view of a channels-last buffer's tiles at stride 4."""
    n, _, _, c = buffer.shape
    sn, sh, sw, sc = buffer.strides
    return as_strided(buffer, (size, size, n, tiles_h, tiles_w, c),
                      (sh, sw, sn, TILE * sh, TILE * sw, sc), writeable=False)


def _chunks(n, values_per_image):
    step = max(1, _CHUNK_BUDGET // max(values_per_image, 1))
    return [(start, min(start + step, n)) for start in range(0, n, step)]


def chunks(n, channels, filters, r, out_h, out_w):
    """[start, stop) ranges of a batch of ``n`` that ``conv2d`` and ``conv2d_grads`` each run
    as one chunk (a caller that pads or copies its input per chunk keeps only a chunk's worth)."""
    tiles_h, tiles_w = tile_grid(out_h, out_w)
    return _chunks(n, (TILE + r - 1) ** 2 * tiles_h * tiles_w * max(channels, filters))


def filter_transform(w, dtype):
    """w (F, C, r, r) -> U (a*a, C, F)."""
    f, c, r, _ = w.shape
    _, g, _ = transforms(r, dtype)
    taps = np.ascontiguousarray(w.transpose(2, 3, 1, 0), dtype=dtype)         # (r, r, C, F)
    return _both_sides(g, taps).reshape(-1, c, f)


def conv2d(xp, w, out_h, out_w, bias=None, out=None, u=None):
    """Stride-1 convolution of a channels-last buffer ``xp`` (N, H', W', C), padded by
    ``input_padding``, with w (F, C, r, r): a C-contiguous (N, out_h, out_w, F) array
    (written into ``out`` when given). ``u``: the filter transform, if already computed."""
    n, _, _, c = xp.shape
    f, _, r, _ = w.shape
    dtype = np.result_type(xp.dtype, w.dtype)
    at, _, bt = transforms(r, dtype)
    a = TILE + r - 1
    tiles_h, tiles_w = tile_grid(out_h, out_w)
    exact = (tiles_h * TILE, tiles_w * TILE) == (out_h, out_w)
    u = filter_transform(w, dtype) if u is None else u
    out = np.empty((n, out_h, out_w, f), dtype=dtype) if out is None else out
    for start, stop in _chunks(n, a * a * tiles_h * tiles_w * max(c, f)):
        count = stop - start
        v = _both_sides(bt, _tiles(xp[start:stop], a, tiles_h, tiles_w)).reshape(a * a, -1, c)
        products = np.matmul(v, u)                                             # (a*a, tiles, F)
        del v          # (each intermediate is freed once used: a chunk holds two at a time)
        blocks = _both_sides(at, products.reshape(a, a, -1)).reshape(TILE, TILE, count, tiles_h, tiles_w, f)
        del products
        tiled = out[start:stop] if exact else np.empty((count, tiles_h * TILE, tiles_w * TILE, f), dtype)
        tiled.reshape(count, tiles_h, TILE, tiles_w, TILE, f)[...] = blocks.transpose(2, 3, 0, 4, 1, 5)
        del blocks
        if not exact:
            out[start:stop] = tiled[:, :out_h, :out_w]
        del tiled
        if bias is not None:
            out[start:stop] += bias
    return out


def conv2d_grads(xp, w, gp, input_crop, need_input=True, need_weight=True, grad_x=None, u=None):
    """Both gradients of ``conv2d(xp, w, ...)`` from the upstream gradient ``gp``, a
    channels-last (N, tiles_h*4, tiles_w*4, F) buffer (zero beyond the output).
    ``input_crop`` (top, left, h, w): where the input sits in xp. Returns the input gradient
    as a C-contiguous (N, h, w, C) array (written into ``grad_x`` when given) and the
    gradient of the filter transform, (a*a, C, F) (``weight_grad`` turns it into the weight
    gradient; a sum over the batch, so parts of a batch add theirs), or None for one not
    needed. ``u``: the filter transform, if already computed."""
    n, _, _, c = xp.shape
    f, _, r, _ = w.shape
    dtype = np.result_type(xp.dtype, w.dtype, gp.dtype)
    at, g, bt = transforms(r, dtype)
    a = TILE + r - 1
    tiles_h, tiles_w = gp.shape[1] // TILE, gp.shape[2] // TILE
    top, left, h, width = input_crop
    u = filter_transform(w, dtype) if u is None and need_input else u
    u_transposed = u.transpose(0, 2, 1) if need_input else None
    grad_u = np.zeros((a * a, c, f), dtype=dtype) if need_weight else None
    if need_input and grad_x is None:
        grad_x = np.empty((n, h, width, c), dtype=dtype)
    reach = -(-a // TILE) * TILE           # the tiles' overhang, rounded up to whole tiles
    for start, stop in _chunks(n, a * a * tiles_h * tiles_w * max(c, f)):
        count = stop - start
        grad_m = _both_sides(at.T, _tiles(gp[start:stop], TILE, tiles_h, tiles_w)).reshape(a * a, -1, f)
        if need_weight:
            v = _both_sides(bt, _tiles(xp[start:stop], a, tiles_h, tiles_w)).reshape(a * a, -1, c)
            grad_u += np.matmul(v.transpose(0, 2, 1), grad_m)
            del v
        if need_input:
            grad_v = np.matmul(grad_m, u_transposed)                              # (a*a, tiles, C)
            del grad_m
            parts = _both_sides(bt.T, grad_v.reshape(a, a, -1)).reshape(a, a, count, tiles_h, tiles_w, c)
            del grad_v
            padded = np.zeros((count, tiles_h * TILE + reach, tiles_w * TILE + reach, c), dtype=dtype)
            # the a x a tiles overlap: add them back in 4 x 4 blocks, each block offset a whole
            # tile apart, so that every addition is one pass over non-overlapping positions
            for row in range(0, a, TILE):
                for col in range(0, a, TILE):
                    rows, cols = min(TILE, a - row), min(TILE, a - col)
                    target = padded[:, row:row + tiles_h * TILE, col:col + tiles_w * TILE]
                    target = target.reshape(count, tiles_h, TILE, tiles_w, TILE, c)[:, :, :rows, :, :cols]
                    target += parts[row:row + rows, col:col + cols].transpose(2, 3, 0, 4, 1, 5)
            del parts, target
            grad_x[start:stop] = padded[:, top:top + h, left:left + width]
            del padded
    return grad_x, grad_u


def weight_grad(grad_u, r):
    """The weight gradient (F, C, r, r) from the filter transform's gradient (a*a, C, F)."""
    _, g, _ = transforms(r, grad_u.dtype)
    a, (_, c, f) = TILE + r - 1, grad_u.shape
    grad_w = _both_sides(g.T, grad_u.reshape(a, a, -1)).reshape(r, r, c, f)
    return np.ascontiguousarray(grad_w.transpose(3, 2, 0, 1))
