"""Case strategies for the built-in ops whose parameters depend on the shapes
drawn (axes, indices, target shapes). Each takes the op's Spec."""
import numpy as np
from hypothesis import strategies as st

from .strategies import Case, arrays, away_from, broadcastable_shapes, distinct_arrays, shapes


def _values(draw, shape, spec):
    if spec.distinct:
        return draw(distinct_arrays(tuple(shape)))
    return draw(arrays(tuple(shape)))


@st.composite
def reduction_cases(draw, spec):
    shape = draw(shapes(0, 3))
    x = _values(draw, shape, spec)
    ndim = len(shape)
    if ndim == 0 or draw(st.booleans()):
        axis = None if ndim == 0 or draw(st.booleans()) else tuple(range(ndim))
    else:
        axis = tuple(sorted(draw(st.sets(st.integers(0, ndim - 1), min_size=1, max_size=ndim))))
    kwargs = {"axis": axis, "keepdims": draw(st.booleans())}
    return Case(args=(x,), kwargs=kwargs)


@st.composite
def var_cases(draw, spec):
    case = draw(reduction_cases(spec))
    x = case.args[0]
    axis = case.kwargs["axis"]
    count = x.size if axis is None else int(np.prod([x.shape[a] for a in axis]))
    case.kwargs["ddof"] = draw(st.sampled_from([0, 1])) if count > 1 else 0
    return case


@st.composite
def clip_cases(draw, spec):
    shape = draw(shapes(0, 3))
    low = draw(st.floats(-2, 0.5))
    high = low + draw(st.floats(0.5, 3))
    which = draw(st.sampled_from(["both", "min", "max"]))
    lo = low if which in ("both", "min") else None
    hi = high if which in ("both", "max") else None
    kinks = tuple(v for v in (lo, hi) if v is not None)
    x = away_from(draw(arrays(shape)), kinks, gap=0.05)
    return Case(args=(x,), kwargs={"min": lo, "max": hi})


@st.composite
def astype_cases(draw, spec):
    x = draw(arrays(shapes(0, 3)))
    return Case(args=(x,), kwargs={"dtype": np.dtype(np.float64)})


@st.composite
def reshape_cases(draw, spec):
    shape = draw(shapes(0, 4))
    dims = list(shape)
    draw(st.randoms()).shuffle(dims)
    new_shape = []
    for d in dims:  # merge neighbours at random
        if new_shape and draw(st.booleans()):
            new_shape[-1] *= d
        else:
            new_shape.append(d)
    if new_shape and draw(st.booleans()):
        new_shape[draw(st.integers(0, len(new_shape) - 1))] = -1
    return Case(args=(draw(arrays(shape)),), kwargs={"shape": tuple(new_shape)})


@st.composite
def transpose_cases(draw, spec):
    shape = draw(shapes(0, 4))
    axes = tuple(draw(st.permutations(range(len(shape)))))
    return Case(args=(draw(arrays(shape)),), kwargs={"axes": axes})


@st.composite
def flatten_cases(draw, spec):
    shape = draw(shapes(1, 4))
    ndim = len(shape)
    start = draw(st.integers(0, ndim - 1))
    end = draw(st.integers(start, ndim - 1))
    if draw(st.booleans()):
        end -= ndim  # negative form
    return Case(args=(draw(arrays(shape)),), kwargs={"start_axis": start, "end_axis": end})


@st.composite
def broadcast_to_cases(draw, spec):
    target = draw(shapes(0, 4))
    keep = draw(st.integers(0, len(target)))
    source = tuple(1 if draw(st.booleans()) else d for d in target[len(target) - keep:])
    return Case(args=(draw(arrays(source)),), kwargs={"shape": target})


@st.composite
def pad_cases(draw, spec):
    shape = draw(shapes(1, 3))
    widths = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in shape)
    value = draw(st.sampled_from([0.0, -1.5]))
    return Case(args=(draw(arrays(shape)),), kwargs={"pad_width": widths, "value": value})


@st.composite
def _index(draw, shape):
    """A numpy index for ``shape``: ints, slices (any step), None, Ellipsis,
    and at most one integer array (with repeated entries)."""
    parts, used_array = [], False
    for size in shape:
        kind = draw(st.sampled_from(["slice", "int", "array", "full"]))
        if kind == "int":
            parts.append(draw(st.integers(-size, size - 1)))
        elif kind == "array" and not used_array:
            used_array = True
            parts.append(np.array(draw(st.lists(st.integers(-size, size - 1), min_size=1, max_size=5))))
        elif kind == "slice":
            start = draw(st.none() | st.integers(-size, size))
            stop = draw(st.none() | st.integers(-size, size))
            step = draw(st.sampled_from([None, 1, 2, -1, -2]))
            parts.append(slice(start, stop, step))
        else:
            parts.append(slice(None))
    if parts and draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), None)
    if len(parts) > 1 and draw(st.booleans()):
        parts = [Ellipsis] + parts[1:]
    return tuple(parts)


@st.composite
def getitem_cases(draw, spec):
    shape = draw(shapes(1, 3))
    return Case(args=(draw(arrays(shape)),), kwargs={"index": draw(_index(shape))})


@st.composite
def index_add_cases(draw, spec):
    shape = draw(shapes(1, 3))
    index = draw(_index(shape))
    values_shape = np.empty(shape)[index].shape
    kwargs = {"shape": shape, "index": index}
    # unique=True (plain assignment) is only valid when no element is hit twice
    hits = np.zeros(shape, dtype=np.int64)
    np.add.at(hits, index, 1)
    if hits.max(initial=0) <= 1 and draw(st.booleans()):
        kwargs["unique"] = True
    return Case(args=(draw(arrays(values_shape)),), kwargs=kwargs)


@st.composite
def concatenate_cases(draw, spec):
    shape = draw(shapes(1, 3))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    count = draw(st.integers(1, 3))
    args = []
    for _ in range(count):
        this = list(shape)
        this[axis] = draw(st.integers(1, 3))
        args.append(draw(arrays(tuple(this))))
    return Case(args=tuple(args), kwargs={"axis": axis})


@st.composite
def stack_cases(draw, spec):
    shape = draw(shapes(0, 3))
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    count = draw(st.integers(1, 3))
    return Case(args=tuple(draw(arrays(shape)) for _ in range(count)), kwargs={"axis": axis})


@st.composite
def matmul_cases(draw, spec):
    m, k, n = (draw(st.integers(1, 4)) for _ in range(3))
    kind = draw(st.sampled_from(["1d@1d", "1d@nd", "nd@1d", "nd@nd"]))
    batch_a, batch_b = draw(broadcastable_shapes(2, 0, 2, max_side=3))
    if kind == "1d@1d":
        shape_a, shape_b = (k,), (k,)
    elif kind == "1d@nd":
        shape_a, shape_b = (k,), batch_b + (k, n)
    elif kind == "nd@1d":
        shape_a, shape_b = batch_a + (m, k), (k,)
    else:
        shape_a, shape_b = batch_a + (m, k), batch_b + (k, n)
    return Case(args=(draw(arrays(shape_a)), draw(arrays(shape_b))))


@st.composite
def index_put_cases(draw, spec):
    shape = draw(shapes(1, 3))
    index = draw(_index(shape))
    accumulate = draw(st.booleans())
    hits = np.zeros(shape, dtype=np.int64)
    np.add.at(hits, index, 1)
    if hits.max(initial=0) > 1 and not accumulate:
        # assigning with repeats: the last write wins and the values' gradient
        # is not defined elementwise; adding is defined for any index
        index = (slice(None),) * len(shape)
    values_shape = np.empty(shape)[index].shape
    if values_shape and draw(st.booleans()):
        values_shape = values_shape[1:]         # values broadcast to the indexed block
    kwargs = {"index": index, "accumulate": True} if accumulate else {"index": index}
    return Case(args=(draw(arrays(shape)), draw(arrays(values_shape))), kwargs=kwargs)


@st.composite
def where_cases(draw, spec):
    condition_shape, x_shape, y_shape = draw(broadcastable_shapes(3, 0, 3))
    condition = draw(arrays(condition_shape)) > 0
    return Case(args=(condition, draw(arrays(x_shape)), draw(arrays(y_shape))))


@st.composite
def cumsum_cases(draw, spec):
    shape = draw(shapes(1, 3))
    return Case(args=(draw(arrays(shape)),), kwargs={"axis": draw(st.integers(0, len(shape) - 1))})


@st.composite
def round_cases(draw, spec):
    # values kept away from the jumps (halfway between two results)
    decimals = draw(st.sampled_from([None, 0, 1, -1]))
    halves = [k + 0.5 for k in range(-4, 4)]
    x = away_from(draw(arrays(shapes(0, 3))), halves, gap=0.05) * 10.0 ** -(decimals or 0)
    return Case(args=(x,), kwargs={} if decimals is None else {"decimals": decimals})


@st.composite
def diagonal_cases(draw, spec):
    shape = draw(shapes(2, 4))
    dim1, dim2 = draw(st.permutations(range(len(shape))))[:2]
    if draw(st.booleans()):
        dim1 -= len(shape)
    offset = draw(st.integers(1 - shape[dim1 % len(shape)], shape[dim2] - 1))
    return Case(args=(draw(arrays(shape)),), kwargs={"offset": offset, "dim1": dim1, "dim2": dim2})


@st.composite
def diag_embed_cases(draw, spec):
    shape = draw(shapes(1, 3))
    return Case(args=(draw(arrays(shape)),), kwargs={"offset": draw(st.integers(-2, 2))})


# (equation, operand subscripts' letters) for einsum: products, transposes,
# traces and diagonals (a letter repeated in one operand), sums over a
# letter only one operand has, outer products, batched products
EINSUM_EQUATIONS = ["ij,jk->ik", "ij->ji", "ii->i", "ii->", "ij->", "ij->j", "bij,bjk->bik",
                    "i,i->", "i,j->ij", "ij,ij->ij", "iij->j", "ij,j->i", "ijk->kij",
                    "ij,jk,kl->il", "ii,i->i", "bi,bj->bij", "i->"]


@st.composite
def einsum_cases(draw, spec):
    equation = draw(st.sampled_from(EINSUM_EQUATIONS))
    terms = equation.split("->")[0].split(",")
    sizes = {letter: draw(st.integers(1, 3)) for letter in sorted(set("".join(terms)))}
    args = tuple(draw(arrays(tuple(sizes[c] for c in term))) for term in terms)
    return Case(args=args, kwargs={"equation": equation})
