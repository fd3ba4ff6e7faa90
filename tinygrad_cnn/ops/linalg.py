"""Matrix products, with numpy's ``matmul`` semantics (1-D operands are
promoted and the added axis removed again; leading axes broadcast)."""
import numpy as np

from ..engine import apply, defop, get_op
from ..tensor import Tensor
from ..errors import ShapeError


@defop("matmul", saves=(0, 1), method=True, function=True)
def matmul(ctx, a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: both operands need at least 1 dimension, got {a.shape} @ {b.shape} "
                         "(use * to multiply by a scalar)")
    try:
        return np.matmul(a, b)
    except ValueError:
        pass
    # diagnose only on failure, to keep the common path cheap
    inner_a = a.shape[-1]
    inner_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if inner_a != inner_b:
        raise ShapeError(f"matmul: {a.shape} @ {b.shape}: inner dimensions {inner_a} and {inner_b} differ")
    raise ShapeError(f"matmul: {a.shape} @ {b.shape}: batch dimensions {a.shape[:-2]} and "
                     f"{b.shape[:-2]} do not broadcast")


def _swap_last(t):
    return t.transpose(-1, -2)


@matmul.defvjp
def matmul_vjp(ctx, grad_out):
    a, b = ctx.inputs
    need_a, need_b = ctx.needs_input_grad
    grad_a = grad_b = None
    if a.ndim == 1 and b.ndim == 1:                        # inner product -> scalar
        grad_a = grad_out * b if need_a else None
        grad_b = grad_out * a if need_b else None
    elif a.ndim == 1:                                      # (k) @ (..., k, n) -> (..., n)
        g = grad_out.unsqueeze(-2)                         # (..., 1, n)
        if need_a:
            grad_a = (g @ _swap_last(b)).reshape(g.shape[:-2] + (a.shape[0],))
        if need_b:
            grad_b = a.reshape((a.shape[0], 1)) @ g
    elif b.ndim == 1:                                      # (..., m, k) @ (k) -> (..., m)
        g = grad_out.unsqueeze(-1)                         # (..., m, 1)
        if need_a:
            grad_a = g @ b.reshape((1, b.shape[0]))
        if need_b:
            grad_b = (_swap_last(a) @ g).reshape(g.shape[:-2] + (b.shape[0],))
    else:
        grad_a = grad_out @ _swap_last(b) if need_a else None
        grad_b = _swap_last(a) @ grad_out if need_b else None
    return grad_a, grad_b


@defop("linear", saves=(0, 1))
def linear(ctx, x, weight, bias=None):
    """x (..., in) @ weight (out, in).T + bias (out,)."""
    if weight.ndim != 2:
        raise ShapeError(f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    if x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ShapeError(f"linear: input has {x.shape[-1] if x.ndim else 0} features (shape {x.shape}) "
                         f"but weight expects {weight.shape[1]} (weight shape {weight.shape})")
    out = x @ weight.T
    if bias is None:
        ctx.node_name = "MmBackward0"       # PyTorch's node without a bias
    else:
        if bias.shape != (weight.shape[0],):
            raise ShapeError(f"linear: bias has shape {bias.shape}, expected ({weight.shape[0]},)")
        out += bias
    return out


@linear.defvjp
def linear_vjp(ctx, grad_out):
    x, weight = ctx.inputs[0], ctx.inputs[1]
    needs = ctx.needs_input_grad
    grad_x = grad_out @ weight if needs[0] else None
    grad_w = grad_b = None
    if needs[1] or (len(needs) > 2 and needs[2]):
        rows = grad_out.reshape(-1, weight.shape[0])
        if needs[1]:
            grad_w = rows.T @ x.reshape(-1, weight.shape[1])
        if len(needs) > 2 and needs[2]:
            grad_b = rows.sum(0)
    return grad_x, grad_w, grad_b


@matmul.variant(name="mm")
def mm(input, mat2):
    """The product of two matrices."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise ShapeError(f"mm: expects two matrices, got shapes {tuple(input.shape)} and {tuple(mat2.shape)}")
    return matmul(input, mat2)


@matmul.variant(name="bmm")
def bmm(input, mat2):
    """Batched matrix products: (b, n, m) @ (b, m, p) -> (b, n, p)."""
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise ShapeError(f"bmm: expects two 3-D tensors with the same batch size, got shapes "
                         f"{tuple(input.shape)} and {tuple(mat2.shape)}")
    return matmul(input, mat2)


@matmul.variant(name="dot")
def dot(input, other):
    """The inner product of two vectors."""
    if input.ndim != 1 or other.ndim != 1:
        raise ShapeError(f"dot: expects two 1-D tensors, got shapes {tuple(input.shape)} and {tuple(other.shape)}")
    return matmul(input, other)


# ---------------------------------------------------------------------------
# einsum

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _einsum_equation(equation: str, shapes) -> tuple:
    """``equation`` in its explicit form, ``"ij,jk->ik"`` (ellipses spelled
    out as letters, the implicit output, the letters used once, sorted,
    after the ellipsis, written), with each operand's shape after the
    dimensions under ``...`` broadcast together; every letter's size checked."""
    text = equation.replace(" ", "")
    inputs, arrow, output = text.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: the equation {equation!r} names {len(terms)} operands but "
                         f"{len(shapes)} tensors were given")
    covered = []                       # per operand: where '...' starts and how many dimensions it covers
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        count = len(shape) - len(term) + 3 if "..." in term else 0
        if count < 0 or (len(term) != len(shape) and "..." not in term):
            raise ShapeError(f"einsum: operand {i} has shape {tuple(shape)} but the subscripts "
                             f"{term!r} in {equation!r} name {len(term.replace('...', ''))} dimensions")
        covered.append((term.find("..."), count))
    try:
        broadcast = np.broadcast_shapes(*[tuple(shape[start:start + count])
                                          for shape, (start, count) in zip(shapes, covered) if count])
    except ValueError:
        raise ShapeError(f"einsum: the dimensions under '...' do not broadcast (shapes "
                         f"{', '.join(str(tuple(s)) for s in shapes)})") from None
    ellipsis = "".join([c for c in _LETTERS if c not in text][:len(broadcast)])
    expanded, targets, sizes = [], [], {}
    for i, (term, shape, (start, count)) in enumerate(zip(terms, shapes, covered)):
        shape = tuple(shape)
        if "..." in term:
            term = term.replace("...", ellipsis[len(ellipsis) - count:] if count else "")
            shape = shape[:start] + broadcast[len(broadcast) - count:] + shape[start + count:]
        if not all(c in _LETTERS for c in term):
            raise ValueError(f"einsum: subscripts must be letters, got {terms[i]!r} in {equation!r}")
        for letter, size in zip(term, shape):
            if sizes.setdefault(letter, size) != size:
                raise ShapeError(f"einsum: subscript {letter!r} has size {size} in operand {i} but "
                                 f"size {sizes[letter]} elsewhere in {equation!r} (shapes "
                                 f"{', '.join(str(tuple(s)) for s in shapes)})")
        expanded.append(term)
        targets.append(shape)
    if arrow:
        output = output.replace("...", ellipsis)
    else:
        joined = "".join(expanded)
        output = ellipsis + "".join(sorted(c for c in set(joined) if joined.count(c) == 1
                                           and c not in ellipsis))
    for letter in output:
        if letter not in sizes or output.count(letter) > 1:
            raise ValueError(f"einsum: output subscript {letter!r} in {equation!r} must appear "
                             "once, and in an operand")
    return ",".join(expanded) + "->" + output, targets


@defop("einsum")
def einsum(ctx, *operands, equation):
    """The sum of products named by ``equation`` (explicit form, no ellipsis)."""
    return np.einsum(equation, *operands, optimize=len(operands) > 2)


@einsum.defvjp
def einsum_vjp(ctx, grad_out):
    """Each operand's gradient is another einsum: the output's gradient with
    the other operands, contracted to this operand's subscripts. A letter
    repeated in the operand (a diagonal) is renamed and tied back by an
    identity matrix; a letter no other term has (summed away) comes back as
    a vector of ones, which broadcasts it."""
    equation = ctx.params["equation"]
    inputs, output = equation.split("->")
    terms = inputs.split(",")
    grads = []
    for i, needed in enumerate(ctx.needs_input_grad):
        if not needed:
            grads.append(None)
            continue
        shape = ctx.inputs[i].shape
        parts = [output] + [t for j, t in enumerate(terms) if j != i]
        tensors = [grad_out] + [t for j, t in enumerate(ctx.inputs) if j != i]
        fresh = iter([c for c in _LETTERS if c not in equation])
        target = ""
        for letter, size in zip(terms[i], shape):
            if letter in target:
                renamed = next(fresh)
                parts.append(letter + renamed)
                tensors.append(Tensor(np.eye(size, dtype=grad_out.dtype)))
                letter = renamed
            target += letter
        for letter, size in zip(terms[i], shape):
            if letter not in "".join(parts):
                parts.append(letter)
                tensors.append(Tensor(np.ones(size, dtype=grad_out.dtype)))
        grads.append(apply(get_op("einsum"), *tensors, equation=",".join(parts) + "->" + target))
    return tuple(grads)


@einsum.variant(method=False)
def einsum(equation, *operands):
    """``einsum("ij,jk->ik", a, b)``: PyTorch's (and numpy's) Einstein
    summation; operands may also be given as one list. Differentiable in
    every operand (its gradients are einsums too)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    operands = [t if isinstance(t, Tensor) else Tensor(t) for t in operands]
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the first argument must be the equation (a string), got "
                        f"{type(equation).__name__}")
    dtype = np.result_type(*[t.data.dtype for t in operands]) if operands else None
    operands = [t if t.data.dtype == dtype else t._cast(dtype) for t in operands]
    explicit, shapes = _einsum_equation(equation, [t.data.shape for t in operands])
    # size-1 dimensions under '...' broadcast (the broadcast's gradient sums them back)
    operands = [t if t.data.shape == shape else t.broadcast_to(shape) for t, shape in zip(operands, shapes)]
    return apply(get_op("einsum"), *operands, equation=explicit)
