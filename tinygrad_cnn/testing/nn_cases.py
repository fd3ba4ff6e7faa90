"""Case strategies for the CNN ops: random but always valid geometry
(batch, channels, sizes, kernel, stride, padding, dilation, groups), drawn
with ``@composite`` so that H >= the kernel's reach and pools have no ties."""
import numpy as np
from hypothesis import strategies as st

from .strategies import Case, arrays, distinct_arrays


@st.composite
def conv_geometry(draw, max_batch=2, max_group_channels=2, max_groups=2, max_kernel=3):
    """A dict describing one valid conv2d: shapes and stride/padding/dilation/groups."""
    groups = draw(st.integers(1, max_groups))
    c_per_group = draw(st.integers(1, max_group_channels))
    f_per_group = draw(st.integers(1, max_group_channels))
    kernel = (draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel)))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    size = []
    for axis in (0, 1):
        reach = dilation[axis] * (kernel[axis] - 1) + 1
        smallest = max(1, reach - 2 * padding[axis])
        size.append(draw(st.integers(smallest, smallest + 3)))
    out = tuple((size[a] + 2 * padding[a] - dilation[a] * (kernel[a] - 1) - 1) // stride[a] + 1
                for a in (0, 1))
    n = draw(st.integers(1, max_batch))
    return {
        "input": (n, c_per_group * groups, size[0], size[1]),
        "weight": (f_per_group * groups, c_per_group) + kernel,
        "output": (n, f_per_group * groups) + out,
        "params": {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups},
    }


@st.composite
def conv2d_cases(draw, spec=None):
    geometry = draw(conv_geometry())
    x = draw(arrays(geometry["input"]))
    w = draw(arrays(geometry["weight"]))
    if draw(st.booleans()):
        return Case(args=(x, w, draw(arrays(geometry["weight"][:1]))), kwargs=geometry["params"])
    return Case(args=(x, w), kwargs=geometry["params"])


@st.composite
def conv_transpose2d_cases(draw, spec=None):
    geometry = draw(conv_geometry())
    params = dict(geometry["params"])
    # output_padding adds rows at the end, allowed below the stride
    output_padding = []
    for a in (0, 1):
        stride, dilation, padding = (params[k][a] for k in ("stride", "dilation", "padding"))
        kernel, size = geometry["weight"][2 + a], geometry["input"][2 + a]
        extra = draw(st.integers(0, stride - 1))
        # rows the strided windows never reached; adding them back keeps the output non-empty
        leftover = (size + 2 * padding - dilation * (kernel - 1) - 1) % stride
        output_padding.append(extra if size - leftover + extra >= 1 else leftover)
    params["output_padding"] = tuple(output_padding)
    g = draw(arrays(geometry["output"]))
    w = draw(arrays(geometry["weight"]))
    return Case(args=(g, w), kwargs=params)


@st.composite
def conv2d_weight_cases(draw, spec=None):
    geometry = draw(conv_geometry())
    x = draw(arrays(geometry["input"]))
    g = draw(arrays(geometry["output"]))
    return Case(args=(x, g), kwargs=dict(geometry["params"], weight_shape=geometry["weight"]))


@st.composite
def pool_geometry(draw):
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = draw(st.none() | st.tuples(st.integers(1, 3), st.integers(1, 3)))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    size = tuple(draw(st.integers(max(1, kernel[a] - 2 * padding[a]), kernel[a] + 4)) for a in (0, 1))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    return (n, c) + size, {"kernel_size": kernel, "stride": stride, "padding": padding}


@st.composite
def max_pool2d_cases(draw, spec=None):
    shape, params = draw(pool_geometry())
    if draw(st.booleans()):   # the seeds' 2x2/2 pool, which has its own fast path
        shape = shape[:2] + (2 * draw(st.integers(1, 3)), 2 * draw(st.integers(1, 3)))
        params = {"kernel_size": (2, 2), "stride": (2, 2), "padding": (0, 0)}
    # distinct values: every window has a unique maximum, far from eps
    return Case(args=(draw(distinct_arrays(shape)),), kwargs=params)


@st.composite
def avg_pool2d_cases(draw, spec=None):
    shape, params = draw(pool_geometry())
    return Case(args=(draw(arrays(shape)),), kwargs=params)


@st.composite
def linear_cases(draw, spec=None):
    batch = draw(st.sampled_from([(), (1,), (3,), (2, 2)]))
    in_f, out_f = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    args = [draw(arrays(batch + (in_f,))), draw(arrays((out_f, in_f)))]
    if draw(st.booleans()):
        args.append(draw(arrays((out_f,))))
    return Case(args=tuple(args))


@st.composite
def softmax_cases(draw, spec=None):
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return Case(args=(draw(arrays(shape, -5, 5)),), kwargs={"axis": axis})


@st.composite
def nll_loss_cases(draw, spec=None):
    n, classes = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    log_probs = draw(arrays((n, classes), -4, 0))
    target = np.array(draw(st.lists(st.integers(0, classes - 1), min_size=n, max_size=n)), dtype=np.int64)
    return Case(args=(log_probs, target), kwargs={"reduction": draw(st.sampled_from(["mean", "sum", "none"]))})


@st.composite
def batch_norm_cases(draw, spec=None):
    """(N, C), (N, C, L) or (N, C, H, W) with at least 2 values per channel;
    distinct values, so no channel's variance is near 0."""
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    spatial = draw(st.sampled_from([(), (2,), (3,), (2, 2), (1, 3)]))
    if n * int(np.prod(spatial, dtype=np.int64)) < 2:
        n = 2
    shape = (n, c) + spatial
    x, weight, bias = draw(distinct_arrays((shape, (c,), (c,))))
    return Case(args=(x, weight, bias), kwargs={"eps": draw(st.sampled_from([1e-5, 0.1]))})


@st.composite
def leaky_relu_cases(draw, spec=None):
    x = draw(arrays(st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple), avoid=(0.0,)))
    return Case(args=(x,), kwargs={"negative_slope": draw(st.sampled_from([0.01, 0.2, -0.5, 1.5]))})


@st.composite
def elu_cases(draw, spec=None):
    x = draw(arrays(st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple), avoid=(0.0,)))
    return Case(args=(x,), kwargs={"alpha": draw(st.sampled_from([1.0, 0.5, 2.0]))})


@st.composite
def gelu_cases(draw, spec=None):
    x = draw(arrays(st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple), -5, 5))
    return Case(args=(x,), kwargs={"approximate": draw(st.sampled_from(["none", "tanh"]))})


@st.composite
def _adaptive_geometry(draw):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    size = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    kind = draw(st.sampled_from(["global", "divides", "any"]))
    if kind == "global":
        output_size = draw(st.sampled_from([1, (1, 1)]))
    elif kind == "divides":
        output_size = tuple(draw(st.sampled_from([d for d in range(1, s + 1) if s % d == 0])) for s in size)
    else:   # overlapping windows (out not dividing the size, even out > size)
        output_size = (draw(st.integers(1, 7)), draw(st.integers(1, 7)))
    return (n, c) + size, output_size


@st.composite
def adaptive_pool2d_cases(draw, spec=None):
    shape, output_size = draw(_adaptive_geometry())
    return Case(args=(draw(arrays(shape)),), kwargs={"output_size": output_size})


@st.composite
def adaptive_max_pool2d_cases(draw, spec=None):
    shape, output_size = draw(_adaptive_geometry())
    return Case(args=(draw(distinct_arrays(shape)),), kwargs={"output_size": output_size})
