"""The Tensor and tinygrad_cnn.* names that PyTorch programs use: semantics
checked without torch, values compared with torch when it is installed."""
import sys

import numpy as np
import pytest

import tinygrad_cnn as tc

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4)).astype(np.float32)


def test_size_numel_dim_and_shape_print_like_pytorch():
    t = tc.tensor(X)
    assert t.size() == (3, 4) and t.size(0) == 3 and t.size(-1) == 4 and t.shape == (3, 4)
    assert t.numel() == 12 and t.dim() == 2 and t.ndim == 2 and len(t) == 3
    assert repr(t.size()) == "torch.Size([3, 4])" and f"{t.shape}" == "torch.Size([3, 4])"
    assert f"{t.dtype}" == "torch.float32" and t.dtype == np.float32 and t.dtype == tc.float32
    assert np.zeros(2, dtype=t.dtype).dtype == np.float32 and tc.tensor([1]).dtype == "int64"
    with pytest.raises(IndexError, match="size: dimension 2 is out of range"):
        t.size(2)


def test_constructors_infer_dtypes_like_pytorch():
    assert tc.tensor([1, 2]).dtype == np.int64
    assert tc.tensor([1.0, 2]).dtype == np.float32
    assert tc.tensor([True, False]).dtype == np.bool_
    assert tc.tensor(np.arange(3, dtype=np.int32)).dtype == np.int32
    assert tc.Tensor([1, 2]).dtype == np.float32            # torch.Tensor(...) is float
    assert tc.arange(5).dtype == np.int64 and tc.arange(0, 1, 0.25).dtype == np.float32
    assert tc.full((2,), 3).dtype == np.int64 and tc.full((2,), 3.0).dtype == np.float32
    assert tc.zeros(2, 3, dtype=tc.float64).dtype == np.float64
    assert tc.float is tc.float32 and tc.long is tc.int64 and tc.double is tc.float64
    assert tc.randint(0, 10, (50,)).dtype == np.int64
    assert tc.rand(2, 2).dtype == np.float32 and tc.randn(3).dtype == np.float32


def test_from_numpy_and_numpy_share_memory():
    array = np.zeros(3, dtype=np.float32)
    t = tc.from_numpy(array)
    array[0] = 5
    assert t[0].item() == 5
    t.numpy()[1] = 7
    assert array[1] == 7
    copy = tc.tensor(array)
    array[2] = 9
    assert copy[2].item() == 0


def test_comparisons_give_bool_tensors_and_count_like_the_notebook():
    predicted = tc.tensor([1, 2, 3, 4])
    labels = tc.tensor([1, 0, 3, 0])
    same = predicted == labels
    assert same.dtype == np.bool_ and same.tolist() == [True, False, True, False]
    assert (predicted == labels).sum().item() == 2
    assert (predicted != labels).sum().item() == 2
    assert ((predicted > 1) & (labels == 0)).tolist() == [False, True, False, True]
    assert (~same).tolist() == [False, True, False, True]
    assert (tc.tensor(X) == None) is False  # noqa: E711  (PyTorch's answer)


def test_max_min_with_dim_return_values_and_indices():
    t = tc.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])
    values, indices = tc.max(t, 1)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    result = t.min(dim=0, keepdim=True)
    assert result.values.shape == (1, 3) and result.indices.tolist() == [[0, 1, 0]]
    assert t.max().item() == 7.0 and t.argmax().item() == 3 and t.argmax(1).tolist() == [1, 0]
    assert tc.max(t, tc.zeros(2, 3) + 3).tolist() == [[3.0, 5.0, 3.0], [7.0, 3.0, 7.0]]


def test_one_element_tensors_convert_and_index():
    classes = ["a", "b", "c"]
    labels = tc.tensor([2, 0])
    assert [classes[label] for label in labels] == ["c", "a"]
    assert int(tc.tensor(3)) == 3 and float(tc.tensor(2.5)) == 2.5 and bool(tc.tensor([1]))
    assert f"{tc.tensor(0.123456):.3f}" == "0.123"
    with pytest.raises(TypeError, match="integer tensors"):
        [1, 2][tc.tensor(1.0)]
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(tc.tensor([1, 2]))
    pairs = list(zip(tc.tensor([1, 2]), tc.tensor([3, 4])))
    assert [(int(a), int(b)) for a, b in pairs] == [(1, 3), (2, 4)]


def test_boolean_and_integer_indexing():
    t = tc.tensor(X, requires_grad=True)
    positive = t[t > 0]
    assert positive.shape == ((X > 0).sum(),)
    positive.sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), (X > 0).astype(np.float32))
    rows = tc.tensor(X)[tc.tensor([2, 0])]
    np.testing.assert_array_equal(rows.numpy(), X[[2, 0]])


def test_shape_methods():
    t = tc.tensor(X)
    assert t.view(-1).shape == (12,) and t.view(2, 6).shape == (2, 6) and t.reshape((6, 2)).shape == (6, 2)
    assert t.unsqueeze(0).shape == (1, 3, 4) and t.unsqueeze(-1).shape == (3, 4, 1)
    assert t.unsqueeze(1).squeeze().shape == (3, 4) and t.unsqueeze(1).squeeze(1).shape == (3, 4)
    assert t.squeeze(0).shape == (3, 4)                         # not size 1: unchanged, as PyTorch
    assert t.transpose(0, 1).shape == (4, 3) and t.t().shape == (4, 3) and t.T.shape == (4, 3)
    cube = tc.zeros(2, 3, 4)
    assert cube.permute(2, 0, 1).shape == (4, 2, 3) and cube.transpose(0, 2).shape == (4, 3, 2)
    assert cube.flatten().shape == (24,) and cube.flatten(1).shape == (2, 12)
    assert tc.flatten(cube, 0, 1).shape == (6, 4)
    assert tc.cat([t, t], dim=1).shape == (3, 8) and tc.stack([t, t]).shape == (2, 3, 4)
    assert [p.shape for p in t.chunk(2, 1)] == [(3, 2), (3, 2)]
    assert [p.shape for p in t.split([1, 2])] == [(1, 4), (2, 4)]


def test_dtype_conversions_and_device():
    t = tc.tensor(X)
    assert t.long().dtype == np.int64 and t.int().dtype == np.int32 and t.double().dtype == np.float64
    assert t.to(tc.float64).dtype == np.float64 and t.to("cpu") is t and t.cpu() is t
    assert t.type() == "torch.FloatTensor" and t.long().type() == "torch.LongTensor"
    assert t.type_as(tc.tensor([1])).dtype == np.int64
    assert str(t.device) == "cpu" and t.device == tc.device("cpu")
    assert tc.cuda.is_available() is False
    with pytest.raises(RuntimeError, match="runs on the CPU"):
        t.to("cuda")
    with pytest.raises(RuntimeError, match="runs on the CPU"):
        t.cuda()


def test_type_promotion_never_widens_float32():
    f = tc.tensor([1.0, 2.0])
    assert (f ** tc.tensor([2, 2])).dtype == np.float32
    assert (f * 2).dtype == np.float32 and (2.5 * f).dtype == np.float32
    assert (tc.tensor([1, 2]) * 0.5).dtype == np.float32
    assert (tc.tensor([1, 2]) / tc.tensor([2, 2])).dtype == np.float32
    assert (tc.tensor([3, 4]) // 2).dtype == np.int64


def test_grad_fn_names_and_next_functions():
    w = tc.tensor([1.0, 2.0], requires_grad=True)
    x = tc.tensor([3.0, 4.0])
    loss = (w * x).sum()
    assert loss.grad_fn.name() == "SumBackward0"
    (mul, _), = loss.grad_fn.next_functions
    assert mul.name() == "MulBackward0"
    leaf, constant = mul.next_functions
    assert leaf[0].name() == "torch::autograd::AccumulateGrad" and leaf[0].variable is w and constant[0] is None
    assert w.is_leaf and not loss.is_leaf and w.grad_fn is None


def test_repr_matches_pytorch_print_rules():
    assert repr(tc.tensor([1.0, 2.0, 3.0])) == "tensor([1., 2., 3.])"
    assert repr(tc.tensor([0.5, -1.25])) == "tensor([ 0.5000, -1.2500])"
    assert repr(tc.tensor([[1, 2], [3, 4]])) == "tensor([[1, 2],\n        [3, 4]])"
    assert repr(tc.tensor(2.0, requires_grad=True)) == "tensor(2., requires_grad=True)"
    assert repr(tc.tensor([1.0], dtype=tc.float64)) == "tensor([1.], dtype=torch.float64)"
    assert repr(tc.tensor([True, False])) == "tensor([ True, False])"
    assert repr(tc.tensor([1e-5, 1.0])) == "tensor([1.0000e-05, 1.0000e+00])"


def test_repr_layout_is_pytorchs():
    """Rows wrap by whole elements at 80 columns, summaries print ' ...',
    whole numbers spanning over 1000x go scientific, suffixes wrap."""
    assert repr(tc.arange(30.0).reshape(2, 15)[:, :9]) == (
        "tensor([[ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.],\n"
        "        [15., 16., 17., 18., 19., 20., 21., 22., 23.]])")
    assert repr(tc.arange(2000.0)) == ("tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
                                       "        1.9990e+03])")
    assert repr(tc.tensor([1.0, 2000.0])) == "tensor([1.0000e+00, 2.0000e+03])"
    assert repr(tc.arange(1200).reshape(40, 30)).splitlines()[0] == "tensor([[   0,    1,    2,  ...,   27,   28,   29],"
    assert repr(tc.tensor([-0.0, 0.0])) == "tensor([-0., 0.])"
    assert repr(tc.zeros(3, 3, 3)).count("\n\n") == 2
    long = tc.tensor(np.linspace(-1, 1, 8, dtype=np.float32), requires_grad=True)
    assert repr(long) == ("tensor([-1.0000, -0.7143, -0.4286, -0.1429,  0.1429,  0.4286,  0.7143,  1.0000],\n"
                          "       requires_grad=True)")


def test_repr_matches_torch_on_random_tensors():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    for _ in range(300):
        ndim = int(rng.integers(0, 5))
        shape = tuple(int(n) for n in rng.integers(1, 12 if ndim < 3 else 6, ndim))
        if rng.random() < 0.05:
            shape = (int(rng.integers(1001, 1300)),)
        kind = int(rng.integers(0, 6))
        if kind == 0:
            array = (rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 10)).astype(np.float32)
        elif kind == 1:
            array = rng.integers(-1000, 1000, shape)
        elif kind == 2:
            array = rng.random(shape) > 0.5
        elif kind == 3:
            array = np.round(rng.standard_normal(shape) * 10.0 ** rng.integers(0, 5)).astype(np.float32)
        elif kind == 4:
            array = rng.standard_normal(shape).astype(np.float32)
            array[array > 1], array[array < -1] = np.nan, -np.inf
        else:
            array = (rng.random(shape) * (rng.random(shape) > 0.5)).astype(np.float64)
        grad = array.dtype.kind == "f" and rng.random() < 0.3
        assert repr(tc.tensor(array, requires_grad=grad)) == repr(torch.tensor(array, requires_grad=grad))


def test_max_min_with_dim_print_as_return_types():
    result = tc.tensor([[1.0, 3.0], [4.0, 2.0]]).max(dim=1)
    assert repr(result) == "torch.return_types.max(\nvalues=tensor([3., 4.]),\nindices=tensor([1, 0]))"
    values, indices = result
    assert result.values is values and result[1] is indices and isinstance(result, tuple)
    assert repr(tc.min(tc.tensor([2, 1]), 0)).startswith("torch.return_types.min(\nvalues=tensor(1),")
    torch = pytest.importorskip("torch")
    assert repr(result) == repr(torch.tensor([[1.0, 3.0], [4.0, 2.0]]).max(dim=1))


def test_generator_objects_as_pytorch():
    first = tc.Generator().manual_seed(42)
    assert isinstance(first, tc.Generator) and first.initial_seed() == 42
    assert repr(first).startswith("<tinygrad_cnn.Generator object at 0x")
    assert repr(tc.manual_seed(0)).startswith("<tinygrad_cnn.Generator object at 0x")
    with pytest.MonkeyPatch.context() as patch:           # a PyTorch program under tinygrad_cnn.torch_alias
        patch.setitem(sys.modules, "torch", tc)
        assert repr(tc.manual_seed(0)).startswith("<torch._C.Generator object at 0x")
    same = tc.Generator().manual_seed(42)
    np.testing.assert_array_equal(tc.randn(5, generator=first).numpy(), tc.randn(5, generator=same).numpy())
    np.testing.assert_array_equal(tc.randperm(6, generator=first).numpy(), tc.randperm(6, generator=same).numpy())
    assert tc.manual_seed(3) is tc.default_generator and tc.initial_seed() == 3
    library = tc.rand(3).numpy()
    tc.default_generator.manual_seed(3)
    np.testing.assert_array_equal(tc.rand(3).numpy(), library)
    with pytest.raises(TypeError, match="rand: generator must be None, a tinygrad_cnn.Generator"):
        tc.rand(2, generator=42)
    with pytest.raises(TypeError, match="manual_seed: seed must be an int, got float"):
        tc.manual_seed(1.5)


ELEMENTWISE = ["exp", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "sign", "neg"]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_functions_match_torch(name):
    torch = pytest.importorskip("torch")
    ours = getattr(tc, name)(tc.tensor(X))
    theirs = getattr(torch, name)(torch.tensor(X))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-7)
    assert ours.dtype == np.float32


REDUCTIONS = [
    ("sum", {}), ("sum", {"dim": 1}), ("sum", {"dim": (0, 1), "keepdim": True}), ("mean", {"dim": 0}),
    ("std", {}), ("std", {"dim": 1}), ("var", {"dim": 1, "unbiased": False}), ("var", {"correction": 0}),
    ("norm", {}), ("norm", {"dim": 1}), ("norm", {"p": 1}), ("amax", {"dim": 1}), ("amin", {"dim": 0}),
    ("logsumexp", {"dim": 1}), ("prod", {"dim": 1}), ("argmax", {"dim": 1}), ("argmin", {}),
]


@pytest.mark.parametrize("name, kwargs", REDUCTIONS)
def test_reductions_match_torch_with_gradients(name, kwargs):
    torch = pytest.importorskip("torch")
    ours_x = tc.tensor(X, requires_grad=True)
    theirs_x = torch.tensor(X, requires_grad=True)
    ours = getattr(ours_x, name)(**kwargs)
    theirs = getattr(theirs_x, name)(**kwargs)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-6)
    if name not in ("argmax", "argmin"):
        ours.sum().backward()
        theirs.sum().backward()
        np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_where_clamp_gather_and_friends_match_torch():
    torch = pytest.importorskip("torch")
    for lib in (tc, torch):
        x = lib.tensor(X, requires_grad=True)
        out = (lib.where(x > 0, x, x * 0.1).sum() + x.clamp(min=-0.5, max=0.5).sum()
               + lib.gather(x, 1, lib.tensor([[0, 1], [2, 3], [1, 1]])).sum()
               + x.flip(0)[0].sum() + x.diagonal().sum() + x.max(1).values.sum())
        out.backward()
        if lib is tc:
            ours = (out.item(), x.grad.numpy().copy())
        else:
            theirs = (out.item(), x.grad.numpy().copy())
    assert abs(ours[0] - theirs[0]) < 1e-4
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-6)


def test_creation_functions_match_torch():
    torch = pytest.importorskip("torch")
    pairs = [
        (tc.arange(0, 1, 0.1), torch.arange(0, 1, 0.1)), (tc.arange(7), torch.arange(7)),
        (tc.linspace(-1, 1, 7), torch.linspace(-1, 1, 7)), (tc.eye(3, 4), torch.eye(3, 4)),
        (tc.full((2, 2), 1.5), torch.full((2, 2), 1.5)), (tc.ones_like(tc.tensor(X)), torch.ones_like(torch.tensor(X))),
    ]
    for ours, theirs in pairs:
        assert ours.shape == tuple(theirs.shape) and str(ours.dtype) == str(theirs.dtype)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_grad_fn_names_and_order_follow_pytorch():
    """The blitz's chain: MseLossBackward0 -> AddmmBackward0 -> AccumulateGrad (addmm lists the bias first)."""
    layer = tc.nn.Linear(3, 2)
    x = tc.tensor(X[:, :3])
    loss = tc.nn.MSELoss()(layer(tc.relu(x)), tc.zeros(3, 2))
    names = [loss.grad_fn.name(), loss.grad_fn.next_functions[0][0].name()]
    first = loss.grad_fn.next_functions[0][0].next_functions[0][0]
    assert names == ["MseLossBackward0", "AddmmBackward0"] and first.name() == "torch::autograd::AccumulateGrad"
    assert first.variable is layer.bias
    conv = tc.nn.Conv2d(1, 1, 2)(tc.ones(1, 1, 3, 3))
    assert repr(conv).endswith("grad_fn=<ConvolutionBackward0>)")
    assert tc.nn.functional.max_pool2d(conv, 2).grad_fn.name() == "MaxPool2DWithIndicesBackward0"
    torch = pytest.importorskip("torch")
    layer_t = torch.nn.Linear(3, 2)
    loss_t = torch.nn.MSELoss()(layer_t(torch.relu(torch.tensor(X[:, :3]))), torch.zeros(3, 2))
    step = loss_t.grad_fn.next_functions[0][0]
    assert [loss_t.grad_fn.name(), step.name(), type(step.next_functions[0][0]).__name__] == names + ["AccumulateGrad"]


def test_set_grad_enabled_as_a_call_context_and_decorator():
    x = tc.ones(2, requires_grad=True)
    try:
        tc.set_grad_enabled(False)                  # a plain call switches at once, as PyTorch's
        assert not tc.is_grad_enabled() and not (x * 2).requires_grad
        with tc.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not tc.is_grad_enabled()
    finally:
        tc.set_grad_enabled(True)
    assert tc.is_grad_enabled()

    @tc.set_grad_enabled(False)
    def doubled(t):
        return t * 2
    assert tc.is_grad_enabled() and not doubled(x).requires_grad and tc.is_grad_enabled()
    with tc.no_grad():
        assert not tc.is_grad_enabled()
    assert tc.is_grad_enabled()


def test_indexing_grad_fn_names_as_pytorch():
    x = tc.ones(4, 3, requires_grad=True)
    names = [x[:2].grad_fn.name(), x[0].grad_fn.name(), x[:, 1].grad_fn.name(), x[x > 0].grad_fn.name()]
    assert names == ["SliceBackward0", "SelectBackward0", "SelectBackward0", "IndexBackward0"]
    torch = pytest.importorskip("torch")
    y = torch.ones(4, 3, requires_grad=True)
    assert names == [y[:2].grad_fn.name(), y[0].grad_fn.name(), y[:, 1].grad_fn.name(), y[y > 0].grad_fn.name()]


def test_sort_topk_argsort():
    t = tc.tensor([[3.0, 1.0, 2.0, 1.0], [0.0, 5.0, 5.0, -1.0]], requires_grad=True)
    values, indices = t.sort(1, descending=True)
    assert values.tolist() == [[3.0, 2.0, 1.0, 1.0], [5.0, 5.0, 0.0, -1.0]]
    assert indices.tolist() == [[0, 2, 1, 3], [1, 2, 0, 3]]          # ties keep their order
    (values * tc.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert t.grad.tolist() == [[1.0, 3.0, 2.0, 4.0], [3.0, 1.0, 2.0, 4.0]]
    top = tc.topk(t, 2, dim=1)
    assert top.values.tolist() == [[3.0, 2.0], [5.0, 5.0]] and top.indices.tolist() == [[0, 2], [1, 2]]
    assert tc.topk(t, 1, largest=False).values.tolist() == [[1.0], [-1.0]]
    assert t.argsort(dim=0).tolist() == [[1, 0, 0, 1], [0, 1, 1, 0]]
    with pytest.raises(IndexError, match="topk: k=5 is out of range"):
        t.topk(5)


def test_sort_and_topk_match_torch():
    torch = pytest.importorskip("torch")
    values = RNG.integers(0, 4, (5, 6)).astype(np.float32)      # many ties
    for dim in (0, 1, -1):
        for descending in (False, True):
            ours, theirs = tc.tensor(values).sort(dim, descending), torch.tensor(values).sort(stable=True, dim=dim, descending=descending)
            np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
            np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
        ours, theirs = tc.tensor(X).topk(3, dim), torch.tensor(X).topk(3, dim)
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())


def test_set_printoptions_like_pytorch():
    values = np.array([[0.123456, 12.5], [3.0, 1e-3]], dtype=np.float32)
    try:
        tc.set_printoptions(precision=2, sci_mode=False)
        assert repr(tc.tensor(values)) == "tensor([[ 0.12, 12.50],\n        [ 3.00,  0.00]])"
    finally:
        tc.set_printoptions(profile="default")
    assert repr(tc.tensor(values)).startswith("tensor([[1.2346e-01")
    torch = pytest.importorskip("torch")
    try:
        for options in ({"precision": 2}, {"sci_mode": False}, {"threshold": 5, "edgeitems": 1}):
            tc.set_printoptions(**options)
            torch.set_printoptions(**options)
            for array in (values, np.arange(12, dtype=np.float32).reshape(3, 4) / 7):
                assert repr(tc.tensor(array)) == repr(torch.tensor(array))
    finally:
        tc.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")


def test_square_is_pow_two():
    x = tc.tensor([1.5, -2.0, 3.0], requires_grad=True)
    y = x.square()
    np.testing.assert_allclose(y.data, [2.25, 4.0, 9.0])
    assert "PowBackward0" in repr(y.grad_fn) and y.dtype == tc.float32
    tc.square(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3.0, -4.0, 6.0])
    ints = tc.tensor([1, -2, 3]).square()
    assert ints.dtype == tc.int64 and ints.tolist() == [1, 4, 9]


def test_square_matches_torch():
    torch = pytest.importorskip("torch")
    values = [[0.5, -1.25], [3.0, -0.0]]
    ours, theirs = tc.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    ours.square().sum().backward()
    theirs.square().sum().backward()
    np.testing.assert_allclose(ours.square().data, theirs.square().detach().numpy())
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy())


def test_pad_is_pytorchs_pad_everywhere():
    """tc.pad is nn.functional.pad (pairs from the last dimension backwards);
    PyTorch has no pad method on Tensor, and neither do we."""
    import tinygrad_cnn.nn.functional as F
    assert tc.pad.__wrapped__ is F.pad                     # (tc.* functions also take out=)
    assert not hasattr(tc.Tensor, "pad")
    x = tc.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    out = tc.pad(x, (1, 2, 0, 1), value=-1.0)
    assert out.shape == (3, 6)
    expected = np.full((3, 6), -1.0, dtype=np.float32)
    expected[:2, 1:4] = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3), dtype=np.float32))


def test_pad_matches_torch():
    torch = pytest.importorskip("torch")
    values = np.random.default_rng(3).standard_normal((2, 3, 4)).astype(np.float32)
    for widths in [(1, 2), (0, 1, 2, 0), (1, 1, 0, 2, 3, 0)]:
        expected = torch.nn.functional.pad(torch.from_numpy(values), widths, value=0.5).numpy()
        np.testing.assert_array_equal(tc.pad(tc.tensor(values), widths, value=0.5).numpy(), expected)
    assert not hasattr(torch, "pad") and not hasattr(torch.Tensor, "pad")
