"""Case strategies for comparing kernels with their reference: ``<op>_cases(thresholds)``.

Each draws, per threshold the kernel declares, on which side of it the case falls, and builds
shapes that land there (a conv whose im2col matrix needs several chunks, one small enough to be
kept from the forward, a first layer's few channels, a bias gradient large enough for BLAS...),
so every path of every kernel is compared with the reference; ``conv2d_cases(..., winograd=)``
draws layers on each side of conv2d's Winograd thresholds (its float64 rounding, ~1e-14 of each
result's largest magnitude, stays far inside check_kernel's rtol of 1e-9). Values come from a
drawn seed (large arrays, drawn element by element, would be slow) in float64; pooling cases
include ties.
"""
import numpy as np
from hypothesis import strategies as st

from .resolve import cases_for
from .strategies import Case


def _values(draw, shape, layout="nchw", integers=False):
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    if layout == "channels_last" and len(shape) == 4:
        n, c, h, w = shape
        base = rng.integers(-3, 4, (n, h, w, c)) if integers else rng.standard_normal((n, h, w, c))
        return base.astype(np.float64).transpose(0, 3, 1, 2)
    base = rng.integers(-3, 4, shape) if integers else rng.standard_normal(shape)
    return base.astype(np.float64)


CONV_SIZES = ("small", "one_chunk", "chunked", "beyond_keep")
# conv2d's kernel only: layers on both sides of its Winograd thresholds
WINOGRAD_SIDES = ("taken", "chunked", "forward_only", "few_channels", "few_filters", "few_tiles",
                  "other_kernel")


@st.composite
def _winograd_geometry(draw, thresholds, side=None):
    """A stride-1 conv2d geometry on a drawn side of the Winograd thresholds: taken in both
    directions (at least winograd_min_channels in, winograd_min_filters out and
    winograd_backward_filter_ratio times the channels, winograd_min_tiles 4x4 output tiles),
    taken over several chunks (more than winograd_chunk_budget values per call), taken by the
    forward only (fewer filters than the ratio), or one threshold short (or a kernel size
    Winograd does not take), which runs im2col."""
    side = draw(st.sampled_from(WINOGRAD_SIDES)) if side is None else side
    kernel = draw(st.sampled_from([3, 5]))
    if side == "other_kernel":
        kernel = draw(st.sampled_from([2, 4]))
    ratio = thresholds["winograd_backward_filter_ratio"]
    channels = thresholds["winograd_min_channels"] + draw(st.integers(0, 3))
    filters = max(thresholds["winograd_min_filters"], ratio * channels) + draw(st.integers(0, 3))
    if side == "forward_only":
        channels = max(channels, -(-(thresholds["winograd_min_filters"] + 1) // ratio))
        filters = max(thresholds["winograd_min_filters"], ratio * channels - 1 - draw(st.integers(0, 2)))
    if side == "few_channels":
        channels = thresholds["winograd_min_channels"] - 1
    if side == "few_filters":
        filters = thresholds["winograd_min_filters"] - 1
    padding = tuple(draw(st.integers(0, kernel - 1)) for _ in range(2))
    height, width = draw(st.integers(kernel + 2, 14)), draw(st.integers(kernel + 2, 14))
    out_h, out_w = height + 2 * padding[0] - kernel + 1, width + 2 * padding[1] - kernel + 1
    tiles = -(-out_h // 4) * -(-out_w // 4)
    least = -(-thresholds["winograd_min_tiles"] // tiles)
    if side == "few_tiles":
        n = least - 1
        if n < 1:        # one image already has enough tiles: a smaller one has fewer
            height = width = kernel
            padding = (0, 0)
            n = 1
    elif side == "chunked":
        n = max(least, thresholds["winograd_chunk_budget"] // ((kernel + 3) ** 2 * tiles * max(channels, filters)) + 1)
    else:
        n = least + draw(st.integers(0, 1))
    out_h, out_w = height + 2 * padding[0] - kernel + 1, width + 2 * padding[1] - kernel + 1
    return {
        "input": (n, channels, height, width),
        "weight": (filters, channels, kernel, kernel),
        "output": (n, filters, out_h, out_w),
        "params": {"stride": (1, 1), "padding": padding, "dilation": (1, 1), "groups": 1},
        "layout": draw(st.sampled_from(["nchw", "channels_last"])),
    }


@st.composite
def _conv_geometry(draw, thresholds, size_class=None, few=None):
    """A conv2d geometry on a drawn side of each threshold: 'small' (n of 1 to 3: for conv2d,
    mostly at most gather_max_values im2col values, gathered), 'one_chunk' (above
    gather_max_values, at most cols_budget), 'chunks' (im2col values per call above
    cols_budget: several chunks), 'kept' (whole matrix at most keep_limit), 'few' (window
    rows shorter than short_run), 'bias_blas' (at least bias_blas_pixels output pixels), and the
    shared-im2col backward's geometry (stride 1, no dilation, one group) or not."""
    few = draw(st.booleans()) if few is None else few
    shared = draw(st.booleans())
    size_class = draw(st.sampled_from(CONV_SIZES)) if size_class is None else size_class
    # (a 1x1 kernel above the size thresholds would need millions of values)
    kernel = draw(st.sampled_from([(3, 3), (5, 5), (3, 2)] if few or size_class != "small"
                                  else [(3, 3), (5, 5), (3, 2), (1, 1)]))
    groups = 1 if (shared or few) else draw(st.sampled_from([1, 2]))
    if few:
        channels = max(1, (thresholds["short_run"] - 1) // kernel[1])   # kw * c < short_run
        channels = draw(st.integers(1, channels))
    else:
        least = -(-thresholds["short_run"] // kernel[1])        # kw * c >= short_run
        channels = groups * draw(st.integers(least, least + 4))
    stride = (1, 1) if shared else draw(st.sampled_from([(1, 1), (2, 2), (2, 1)]))
    dilation = (1, 1) if shared else draw(st.sampled_from([(1, 1), (2, 1)]))
    padding = tuple(draw(st.integers(0, k - 1)) if shared else draw(st.integers(0, 2)) for k in kernel)
    side = draw(st.integers(max(kernel) * 2, 12))
    out_h = (side + 2 * padding[0] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    out_w = (side + 2 * padding[1] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    per_image = out_h * out_w * kernel[0] * kernel[1] * channels
    if size_class == "small":
        n = draw(st.integers(1, 3))
    elif size_class == "one_chunk":      # too large to gather (conv2d), one chunk of im2col
        n = thresholds.get("gather_max_values", 0) // per_image + 1
        n = max(1, min(n, thresholds["cols_budget"] // per_image))
    elif size_class == "chunked":        # more than one chunk, all of it small enough to keep
        n = thresholds["cols_budget"] // per_image + 1 + draw(st.integers(0, 2))
        n = min(n, max(1, thresholds["keep_limit"] // per_image))
    else:                                # beyond what the forward keeps
        n = thresholds["keep_limit"] // per_image + 1
    if draw(st.booleans()):              # enough pixels for the BLAS bias gradient
        n = max(n, -(-thresholds["bias_blas_pixels"] // (out_h * out_w)))
    filters = groups * draw(st.integers(1, 6))
    split = thresholds.get("parallel_min_macs")
    if split is not None and size_class != "small" and draw(st.booleans()):
        # enough multiply-adds (and images) for the kernel to split the batch across threads
        n = max(n, 2)
        macs_per_filter = n * out_h * out_w * kernel[0] * kernel[1] * (channels // groups)
        filters = max(filters, groups * -(-split // (macs_per_filter * groups)))
    return {
        "input": (n, channels, side, side),
        "weight": (filters, channels // groups) + kernel,
        "output": (n, filters, out_h, out_w),
        "params": {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups},
        "layout": draw(st.sampled_from(["nchw", "channels_last"])),
    }


def conv2d_cases(thresholds, size_class=None, few=None, winograd=None):
    """``winograd``: None (the im2col geometries above), True (a drawn side of the Winograd
    thresholds) or one of WINOGRAD_SIDES."""
    @st.composite
    def cases(draw):
        if winograd is None:
            geometry = draw(_conv_geometry(thresholds, size_class, few))
        else:
            geometry = draw(_winograd_geometry(thresholds, None if winograd is True else winograd))
        x = _values(draw, geometry["input"], geometry["layout"])
        w = _values(draw, geometry["weight"]) * 0.2
        args = (x, w, _values(draw, geometry["weight"][:1])) if draw(st.booleans()) else (x, w)
        return Case(args=args, kwargs=geometry["params"])
    return cases()


def conv_transpose2d_cases(thresholds, size_class=None, few=None):
    @st.composite
    def cases(draw):
        geometry = draw(_conv_geometry(thresholds, size_class, few))
        params = dict(geometry["params"])
        params["output_padding"] = tuple(
            (geometry["input"][2 + a] + 2 * params["padding"][a] - params["dilation"][a]
             * (geometry["weight"][2 + a] - 1) - 1) % params["stride"][a] for a in (0, 1))
        g = _values(draw, geometry["output"], geometry["layout"])
        w = _values(draw, geometry["weight"]) * 0.2
        return Case(args=(g, w), kwargs=params)
    return cases()


def conv2d_weight_cases(thresholds, size_class=None, few=None):
    @st.composite
    def cases(draw):
        geometry = draw(_conv_geometry(thresholds, size_class, few))
        x = _values(draw, geometry["input"], geometry["layout"])
        g = _values(draw, geometry["output"], draw(st.sampled_from(["nchw", "channels_last"])))
        return Case(args=(x, g), kwargs=dict(geometry["params"], weight_shape=geometry["weight"]))
    return cases()


def max_pool2d_cases(thresholds):
    """2x2/2 pools over even sizes in either memory order, with ties (small integers), which
    the kernel takes, on both sides of the size up to which it gathers the windows' corners,
    with and without NaNs; other geometries, which it leaves to the reference."""
    @st.composite
    def cases(draw):
        fast = draw(st.booleans())
        n, c = draw(st.integers(1, 3)), draw(st.integers(1, 5))
        if fast:
            h, w = 2 * draw(st.integers(1, 5)), 2 * draw(st.integers(1, 5))
            if draw(st.booleans()):          # beyond the gathered path
                c = thresholds["gather_max_size"] // (n * h * w) + 1 + draw(st.integers(0, 2))
            kwargs = {"kernel_size": 2, "stride": 2, "padding": 0}
        else:
            h, w = draw(st.integers(3, 7)), draw(st.integers(3, 7))
            kwargs = {"kernel_size": 3, "stride": draw(st.integers(1, 3)), "padding": draw(st.integers(0, 1))}
        x = _values(draw, (n, c, h, w), draw(st.sampled_from(["nchw", "channels_last"])), integers=True)
        if fast and draw(st.booleans()):
            # NaNs win their windows (the last one in window order, as in the reference)
            for _ in range(draw(st.integers(1, 3))):
                x[tuple(draw(st.integers(0, size - 1)) for size in x.shape)] = np.nan
        # the kernel's first-maximum rule is compared on ties; second order is piecewise linear
        return Case(args=(x,), kwargs=kwargs)
    return cases()


def relu_cases(thresholds):
    """Arrays on both sides of the size above which threads split the pass (when on), in
    either memory order, away from the kink at 0."""
    @st.composite
    def cases(draw):
        large = draw(st.booleans())
        size = thresholds["thread_min_size"] + 7 if large else draw(st.integers(1, 200))
        x = _values(draw, (size,))
        x = np.where(np.abs(x) < 0.05, 0.5, x)
        if draw(st.booleans()) and size % 4 == 0:
            x = x.reshape(2, 2, -1, 1).transpose(0, 3, 1, 2)
        return Case(args=(x,))
    return cases()


def matmul_cases(thresholds):
    """Outer products (inner dimension 1, which the kernel takes) and other products."""
    @st.composite
    def cases(draw):
        m, n = draw(st.integers(1, 9)), draw(st.integers(1, 9))
        inner = 1 if draw(st.booleans()) else draw(st.integers(2, 6))
        return Case(args=(_values(draw, (m, inner)), _values(draw, (inner, n))))
    return cases()


def linear_cases(thresholds):
    """Batch 1 (the outer-product weight gradient), larger batches, and products of at least
    parallel_min_macs multiply-adds (split across threads), with and without bias."""
    @st.composite
    def cases(draw):
        batch = 1 if draw(st.booleans()) else draw(st.integers(2, 7))
        features, out = draw(st.integers(1, 8)), draw(st.integers(1, 8))
        if draw(st.booleans()):
            batch, out = draw(st.integers(2, 40)), draw(st.integers(64, 200))
            features = -(-thresholds["parallel_min_macs"] // (batch * out)) + draw(st.integers(0, 9))
        args = [_values(draw, (batch, features)), _values(draw, (out, features))]
        if draw(st.booleans()):
            args.append(_values(draw, (out,)))
        return Case(args=tuple(args))
    return cases()


def _from_op_cases(name):
    def cases(thresholds):
        return cases_for(name)
    return cases


# kernels with no size threshold: the op's own property-test cases reach every path
tanh_cases = _from_op_cases("tanh")
sigmoid_cases = _from_op_cases("sigmoid")
elu_cases = _from_op_cases("elu")
log_softmax_cases = _from_op_cases("log_softmax")
nll_loss_cases = _from_op_cases("nll_loss")
batch_norm_cases = _from_op_cases("batch_norm")
reshape_cases = _from_op_cases("reshape")
flatten_cases = _from_op_cases("flatten")

__all__ = [name for name in dir() if name.endswith("_cases") and not name.startswith("_")]
