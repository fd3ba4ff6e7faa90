"""index_put/index_put_, diag/diagonal/diag_embed, einsum and round: semantics
checked without torch, values, gradients and grad_fn names compared with
torch when it is installed."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.testing import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)


def _torch():
    return pytest.importorskip("torch")


def _compare_with_torch(fn_tc, fn_torch, arrays, rtol=1e-5, atol=1e-6):
    """Forward values and every input's gradient (for a random upstream
    gradient) of ``fn_tc`` against ``fn_torch`` on the same float32 arrays."""
    torch = _torch()
    ours = [tc.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = fn_tc(*ours), fn_torch(*theirs)
    assert tuple(out.shape) == tuple(expected.shape)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=rtol, atol=atol)
    upstream = RNG.standard_normal(tuple(expected.shape)).astype(np.float32)
    out.backward(tc.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    for mine, reference in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad.data, reference.grad.numpy(), rtol=rtol, atol=atol)
    return out, expected


# --- index_put ------------------------------------------------------------------

def test_index_put_accumulate_counts_a_confusion_matrix_like_add_at():
    target = RNG.integers(0, 4, 50)
    predicted = RNG.integers(0, 4, 50)
    cm = tc.zeros(4, 4)
    returned = cm.index_put_((tc.tensor(target), tc.tensor(predicted)), tc.ones(50), accumulate=True)
    expected = np.zeros((4, 4), np.float32)
    np.add.at(expected, (target, predicted), 1)
    assert returned is cm and cm.dtype == np.float32
    np.testing.assert_array_equal(cm.data, expected)
    assert cm.sum().item() == 50


def test_index_put_without_accumulate_assigns_and_broadcasts():
    x = tc.zeros(5)
    x.index_put_((tc.tensor([True, False, True, False, False]),), tc.tensor(3.0))
    assert x.tolist() == [3, 0, 3, 0, 0]
    y = tc.arange(6.0).reshape(2, 3)
    z = y.index_put((tc.tensor([1]),), tc.tensor([7.0, 8.0, 9.0]))
    assert z.tolist() == [[0, 1, 2], [7, 8, 9]] and y.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert tc.index_put(y, (tc.tensor([0]), tc.tensor([2])), tc.tensor(-1.0))[0, 2].item() == -1


def test_index_put_errors_name_the_op():
    with pytest.raises(TypeError, match="index_put_: indices must be a tuple of tensors"):
        tc.zeros(3).index_put_(tc.tensor([0]), tc.tensor([1.0]))
    with pytest.raises(RuntimeError, match="index_put_: Index put requires the source and destination dtypes"):
        tc.zeros(3).index_put_((tc.tensor([0]),), tc.tensor([1.0], dtype=tc.float64))
    with pytest.raises(IndexError, match="index_put: tensors used as indices must be long"):
        tc.zeros(3).index_put((tc.tensor([0.0]),), tc.tensor(1.0))


def test_index_put_inside_a_graph_differentiates_both_inputs():
    x = tc.tensor(RNG.standard_normal(4).astype(np.float32), requires_grad=True)
    values = tc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y.index_put_((tc.tensor([0, 0, 2]),), values, accumulate=True)
    assert repr(y.grad_fn).startswith("<IndexPutBackward0")
    (y * tc.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert x.grad.tolist() == [2, 4, 6, 8]
    assert values.grad.tolist() == [1, 1, 3]


@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put_matches_torch(accumulate):
    torch = _torch()
    rows, cols = np.array([0, 2, 2, 1]), np.array([1, 0, 0, 3])
    if not accumulate:
        rows, cols = rows[[0, 1, 3]], cols[[0, 1, 3]]
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    values = RNG.standard_normal(len(rows)).astype(np.float32)
    _compare_with_torch(
        lambda a, v: (a * 1).index_put_((tc.tensor(rows), tc.tensor(cols)), v, accumulate=accumulate),
        lambda a, v: (a * 1).index_put_((torch.tensor(rows), torch.tensor(cols)), v, accumulate=accumulate),
        [x, values])
    cm = torch.zeros(3, 3).index_put_((torch.tensor(rows % 3), torch.tensor(cols % 3)),
                                      torch.ones(len(rows)), accumulate=True)
    ours = tc.zeros(3, 3).index_put_((tc.tensor(rows % 3), tc.tensor(cols % 3)),
                                     tc.ones(len(rows)), accumulate=True)
    np.testing.assert_array_equal(ours.data, cm.numpy())


# --- diag, diagonal, diag_embed ---------------------------------------------------

def test_diag_builds_and_reads_diagonals():
    v = tc.tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(tc.diag(v).data, np.diag([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(v.diag(1).data, np.diag([1.0, 2.0, 3.0], 1))
    m = tc.arange(12.0).reshape(3, 4)
    for k in (-2, -1, 0, 1, 3, 5):
        np.testing.assert_array_equal(m.diag(k).data, np.diag(m.data, k))
    assert m.diagonal(1).tolist() == [1, 6, 11]
    with pytest.raises(RuntimeError, match="diag: Supports 1D or 2D tensors. Got 3D"):
        tc.zeros(2, 2, 2).diag()


def test_diagonal_of_a_batch_is_its_last_dimension():
    x = tc.tensor(RNG.standard_normal((2, 3, 4)))
    np.testing.assert_array_equal(x.diagonal(0, 1, 2).data, np.diagonal(x.data, 0, 1, 2))
    np.testing.assert_array_equal(x.diagonal(1, 0, 2).data, np.diagonal(x.data, 1, 0, 2))
    np.testing.assert_array_equal(x.diagonal(-1, 2, 0).data, np.diagonal(x.data, -1, 2, 0))
    with pytest.raises(RuntimeError, match="diagonal: dim1 and dim2 cannot be the same"):
        x.diagonal(0, 1, -2)


@pytest.mark.parametrize("offset", [-2, 0, 1])
def test_diag_matches_torch(offset):
    torch = _torch()
    _compare_with_torch(lambda v: tc.diag(v, offset), lambda v: torch.diag(v, offset),
                        [RNG.standard_normal(3).astype(np.float32)])
    out, expected = _compare_with_torch(lambda m: m.diag(offset), lambda m: m.diag(offset),
                                        [RNG.standard_normal((3, 4)).astype(np.float32)])
    _compare_with_torch(lambda x: x.diagonal(offset, 2, 0), lambda x: x.diagonal(offset, 2, 0),
                        [RNG.standard_normal((3, 2, 4)).astype(np.float32)])
    _compare_with_torch(lambda x: tc.diag_embed(x, offset), lambda x: torch.diag_embed(x, offset),
                        [RNG.standard_normal((2, 3)).astype(np.float32)])
    vector = torch.zeros(3, requires_grad=True)
    assert tc.diag(tc.zeros(3, requires_grad=True)).grad_fn.name() == torch.diag(vector).grad_fn.name()


# --- einsum -------------------------------------------------------------------------

def test_einsum_matches_numpy_for_implicit_and_explicit_forms():
    a = RNG.standard_normal((2, 3)).astype(np.float32)
    b = RNG.standard_normal((3, 4)).astype(np.float32)
    batch = RNG.standard_normal((5, 2, 3)).astype(np.float32)
    for equation, operands in [("ij,jk->ik", (a, b)), ("ij,jk", (a, b)), ("ji", (a,)),
                               ("ii", (a[:, :2],)), ("...ij->...ji", (batch,)),
                               ("...ij,jk->...ik", (batch, b)), ("i j , j k -> i k", (a, b))]:
        out = tc.einsum(equation, *[tc.tensor(o) for o in operands])
        expected = np.einsum(equation.replace(" ", ""), *operands)
        assert out.dtype == np.float32 and out.shape == expected.shape
        np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-6)
    assert tc.einsum("ij,jk->ik", [tc.tensor(a), tc.tensor(b)]).shape == (2, 4)   # a list of operands


def test_einsum_errors_name_the_subscripts():
    a, b = tc.zeros(2, 3), tc.zeros(4, 5)
    with pytest.raises(ValueError, match="einsum: subscript 'j' has size 4 in operand 1 but size 3"):
        tc.einsum("ij,jk->ik", a, b)
    with pytest.raises(ValueError, match="einsum: the equation 'ij,jk->ik' names 2 operands but 1"):
        tc.einsum("ij,jk->ik", a)
    with pytest.raises(ValueError, match="einsum: operand 0 has shape \\(2, 3\\) but the subscripts 'ijk'"):
        tc.einsum("ijk->i", a)
    with pytest.raises(RuntimeError, match="einsum: the dimensions under '...' do not broadcast"):
        tc.einsum("...ij,...jk->...ik", tc.zeros(2, 3, 4), tc.zeros(3, 4, 2))


def test_einsum_gradients_of_gradients():
    a = tc.tensor(RNG.standard_normal((3, 3)), requires_grad=True)
    b = tc.tensor(RNG.standard_normal(3), requires_grad=True)
    assert gradcheck(lambda x, y: tc.einsum("ii,i->i", x, y), [a, b])
    assert gradgradcheck(lambda x, y: tc.einsum("ij,j->", x, y), [a, b])


@pytest.mark.parametrize("equation,shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]), ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]), ("ij->j", [(2, 3)]), ("i,j->ij", [(2,), (3,)]), ("...ij,...j->...i", [(2, 3, 4), (2, 4)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]), ("iij->j", [(2, 2, 3)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (1, 5, 4, 2)]), ("i...->...", [(3, 2, 1)]), ("...ii->...i", [(2, 3, 3)])])
def test_einsum_matches_torch(equation, shapes):
    torch = _torch()
    arrays = [RNG.standard_normal(s).astype(np.float32) for s in shapes]
    _compare_with_torch(lambda *t: tc.einsum(equation, *t), lambda *t: torch.einsum(equation, *t), arrays)


# --- round -------------------------------------------------------------------------

def test_round_halves_to_even_and_has_a_zero_gradient():
    x = tc.tensor([0.5, 1.5, 2.5, -0.5, -1.7, 2.2], requires_grad=True)
    y = x.round()
    assert y.tolist() == [0, 2, 2, -0, -2, 2] and y.dtype == np.float32
    assert repr(y.grad_fn).startswith("<RoundBackward0") and repr(x.round(decimals=1).grad_fn).startswith("<RoundBackward1")
    (y * 3).sum().backward()
    assert x.grad.tolist() == [0.0] * 6
    assert tc.round(tc.tensor([1.26, -0.04]), decimals=1).tolist() == pytest.approx([1.3, -0.0])
    assert tc.round(tc.tensor([1234.0, 1250.0, 1350.0]), decimals=-2).tolist() == [1200, 1200, 1400]
    assert tc.tensor([3, -2]).round().tolist() == [3, -2] and tc.tensor([3]).round().dtype == np.int64
    with pytest.raises(NotImplementedError, match="round: decimals=1 is only supported for floating"):
        tc.tensor([3]).round(decimals=1)


@pytest.mark.parametrize("decimals", [None, 0, 2, -1])
def test_round_matches_torch(decimals):
    torch = _torch()
    x = np.concatenate([RNG.standard_normal(20) * 30, [0.5, 1.5, 2.5, -2.5, 1.125, 2.675]]).astype(np.float32)
    kwargs = {} if decimals is None else {"decimals": decimals}
    out, expected = _compare_with_torch(lambda t: t.round(**kwargs), lambda t: torch.round(t, **kwargs), [x],
                                        rtol=0, atol=0)
    assert out.grad_fn.name() == expected.grad_fn.name()
    x64 = x.astype(np.float64)
    np.testing.assert_array_equal(tc.round(tc.tensor(x64), **kwargs).data, torch.round(torch.tensor(x64), **kwargs).numpy())
