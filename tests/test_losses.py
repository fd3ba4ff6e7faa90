"""Losses: cross_entropy, nll_loss, mse_loss, l1_loss and their modules.

Values and gradients against torch (skipped when torch is not installed) for
every reduction, class weights, ignore_index, label smoothing, probability
targets and K-dimensional inputs; gradients against central differences in
float64 (always run); stability, dtypes and error messages."""
import itertools
import warnings

import numpy as np
import pytest

import tinygrad_cnn.nn as nn
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import Tensor
from tinygrad_cnn.testing import gradcheck, gradgradcheck

REDUCTIONS = ["mean", "sum", "none"]
SHAPES = {"2d": (6, 5), "1d": (5,), "4d": (3, 5, 2, 3)}


def labels_for(shape, rng, ignore_index=None):
    """Integer labels for logits of ``shape``, some set to ``ignore_index``."""
    classes = shape[0] if len(shape) == 1 else shape[1]
    batch = () if len(shape) == 1 else (shape[0],) + shape[2:]
    labels = rng.integers(0, classes, size=batch)
    if ignore_index is not None and labels.ndim:
        labels.reshape(-1)[1::3] = ignore_index
    return labels


def probabilities_for(shape, rng):
    class_dim = 0 if len(shape) == 1 else 1
    raw = rng.random(shape) + 0.05
    return raw / raw.sum(axis=class_dim, keepdims=True)


def compare_with_torch(ours, theirs, inputs, rng, rtol=1e-10, atol=1e-12):
    """Run ``ours`` on float64 Tensors and ``theirs`` on torch tensors; compare
    the values and the gradients of every input for a random upstream."""
    torch = pytest.importorskip("torch")
    mine = [Tensor(x, requires_grad=True) for x in inputs]
    ref = [torch.tensor(x, requires_grad=True) for x in inputs]
    out, expected = ours(*mine), theirs(*ref)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=rtol, atol=atol)
    upstream = rng.standard_normal(out.shape)
    out.backward(Tensor(upstream))
    expected.backward(torch.tensor(upstream))
    for a, b in zip(mine, ref):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol)
    return out


CE_CASES = list(itertools.product(SHAPES, REDUCTIONS, [False, True], [None, -100, 2], [0.0, 0.2]))


@pytest.mark.parametrize("shape, reduction, weighted, ignore_index, smoothing", CE_CASES,
                         ids=["-".join(map(str, case)) for case in CE_CASES])
def test_cross_entropy_labels_match_torch(shape, reduction, weighted, ignore_index, smoothing):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(str((shape, reduction, weighted, ignore_index, smoothing))))
    shape = SHAPES[shape]
    classes = shape[0] if len(shape) == 1 else shape[1]
    labels = labels_for(shape, rng, ignore_index)
    weight = rng.random(classes) + 0.2 if weighted else None
    options = dict(reduction=reduction, label_smoothing=smoothing, ignore_index=-100 if ignore_index is None
                   else ignore_index)
    compare_with_torch(
        lambda x: F.cross_entropy(x, Tensor(labels), weight=None if weight is None else Tensor(weight), **options),
        lambda x: torch.nn.functional.cross_entropy(x, torch.tensor(labels), weight=None if weight is None
                                                    else torch.tensor(weight), **options),
        [rng.standard_normal(shape) * 3], rng)


PROB_CASES = list(itertools.product(SHAPES, REDUCTIONS, [False, True], [0.0, 0.3]))


@pytest.mark.parametrize("shape, reduction, weighted, smoothing", PROB_CASES,
                         ids=["-".join(map(str, case)) for case in PROB_CASES])
def test_cross_entropy_probabilities_match_torch(shape, reduction, weighted, smoothing):
    """Gradients flow to the soft targets too, as in PyTorch."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(str((shape, reduction, weighted, smoothing))))
    shape = SHAPES[shape]
    classes = shape[0] if len(shape) == 1 else shape[1]
    weight = rng.random(classes) + 0.2 if weighted else None
    compare_with_torch(
        lambda x, p: F.cross_entropy(x, p, weight=None if weight is None else Tensor(weight),
                                     reduction=reduction, label_smoothing=smoothing),
        lambda x, p: torch.nn.functional.cross_entropy(x, p, weight=None if weight is None else torch.tensor(weight),
                                                       reduction=reduction, label_smoothing=smoothing),
        [rng.standard_normal(shape) * 3, probabilities_for(shape, rng)], rng)


NLL_CASES = list(itertools.product(SHAPES, REDUCTIONS, [False, True], [None, 1]))


@pytest.mark.parametrize("shape, reduction, weighted, ignore_index", NLL_CASES,
                         ids=["-".join(map(str, case)) for case in NLL_CASES])
def test_nll_loss_matches_torch(shape, reduction, weighted, ignore_index):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(str((shape, reduction, weighted, ignore_index))))
    shape = SHAPES[shape]
    classes = shape[0] if len(shape) == 1 else shape[1]
    labels = labels_for(shape, rng, ignore_index)
    weight = rng.random(classes) + 0.2 if weighted else None
    options = dict(reduction=reduction, ignore_index=-100 if ignore_index is None else ignore_index)
    # any real input, not only log-probabilities
    compare_with_torch(
        lambda x: F.nll_loss(x, Tensor(labels), weight=None if weight is None else Tensor(weight), **options),
        lambda x: torch.nn.functional.nll_loss(x, torch.tensor(labels), weight=None if weight is None
                                               else torch.tensor(weight), **options),
        [rng.standard_normal(shape)], rng)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pointwise_losses_match_torch(name, reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    ours, theirs = getattr(F, name), getattr(torch.nn.functional, name)
    compare_with_torch(lambda x, y: ours(x, y, reduction=reduction), lambda x, y: theirs(x, y, reduction=reduction),
                       [rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 2))], rng)


def test_l1_gradient_at_zero_difference_is_zero_like_torch():
    torch = pytest.importorskip("torch")
    x = np.array([1.0, 2.0, 3.0])
    compare_with_torch(lambda a, b: F.l1_loss(a, b), lambda a, b: torch.nn.functional.l1_loss(a, b),
                       [x, np.array([1.0, 0.0, 3.0])], np.random.default_rng(0))


def test_loss_modules_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    weight = rng.random(5) + 0.2
    logits, labels = rng.standard_normal((6, 5)), np.array([0, 4, -1, 2, 2, 1])
    pairs = [
        (nn.CrossEntropyLoss(weight=Tensor(weight), ignore_index=-1, label_smoothing=0.1),
         torch.nn.CrossEntropyLoss(weight=torch.tensor(weight), ignore_index=-1, label_smoothing=0.1), logits),
        (nn.NLLLoss(weight=Tensor(weight), ignore_index=-1, reduction="sum"),
         torch.nn.NLLLoss(weight=torch.tensor(weight), ignore_index=-1, reduction="sum"), logits),
    ]
    for ours, theirs, x in pairs:
        compare_with_torch(lambda z: ours(z, Tensor(labels)), lambda z: theirs(z, torch.tensor(labels)), [x], rng)
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    target = rng.standard_normal((6, 5))
    for ours, theirs in [(nn.MSELoss(), torch.nn.MSELoss()), (nn.L1Loss(reduction="none"),
                                                               torch.nn.L1Loss(reduction="none"))]:
        compare_with_torch(lambda z: ours(z, Tensor(target)), lambda z: theirs(z, torch.tensor(target)),
                           [logits], rng)
        assert repr(ours) == repr(theirs)


# --- gradients against central differences (always run) --------------------------------


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_gradcheck(shape, reduction):
    rng = np.random.default_rng(3)
    classes = shape[0] if len(shape) == 1 else shape[1]
    labels = Tensor(labels_for(shape, rng, ignore_index=-100))
    weight = Tensor(rng.random(classes) + 0.2)
    logits = rng.standard_normal(shape)

    def labelled(z):
        return F.cross_entropy(z, labels, weight=weight, reduction=reduction, label_smoothing=0.15)

    def soft(z, p):
        return F.cross_entropy(z, p, weight=weight, reduction=reduction, label_smoothing=0.15)

    assert gradcheck(labelled, [logits])
    assert gradcheck(soft, [logits, probabilities_for(shape, rng)])
    assert gradgradcheck(labelled, [logits])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_mse_l1_gradcheck(reduction):
    rng = np.random.default_rng(5)
    labels = Tensor(np.array([0, 3, 1, 3, 2]))
    weight = Tensor(np.array([0.5, 1.0, 2.0, 0.25]))
    assert gradcheck(lambda z: F.nll_loss(z, labels, weight=weight, ignore_index=1, reduction=reduction),
                     [rng.standard_normal((5, 4))])
    a = rng.standard_normal((3, 4))
    b = a + rng.choice([-1.0, 1.0], size=a.shape) * rng.uniform(0.1, 1.0, size=a.shape)   # away from |0|'s kink
    assert gradcheck(lambda x, y: F.mse_loss(x, y, reduction=reduction), [a, b])
    assert gradcheck(lambda x, y: F.l1_loss(x, y, reduction=reduction), [a, b])
    assert gradgradcheck(lambda x, y: F.mse_loss(x, y, reduction=reduction), [a, b])


# --- semantics without torch -----------------------------------------------------------------


def test_weighted_mean_divides_by_the_weights_of_the_kept_labels():
    logits = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]]))
    labels = np.array([0, 1, -100])
    weight = np.array([2.0, 3.0, 10.0])
    loss = F.cross_entropy(Tensor(logits), Tensor(labels), weight=Tensor(weight))
    expected = (2.0 * -np.log(0.5) + 3.0 * -np.log(0.8)) / (2.0 + 3.0)
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    per_example = F.cross_entropy(Tensor(logits), Tensor(labels), weight=Tensor(weight), reduction="none")
    np.testing.assert_allclose(per_example.detach().numpy(), [2.0 * -np.log(0.5), 3.0 * -np.log(0.8), 0.0], rtol=1e-12)


def test_label_smoothing_mixes_in_the_uniform_target():
    rng = np.random.default_rng(2)
    logits, labels = rng.standard_normal((4, 3)), np.array([0, 2, 1, 1])
    smoothed = 0.7 * np.eye(3)[labels] + 0.3 / 3
    got = F.cross_entropy(Tensor(logits), Tensor(labels), label_smoothing=0.3).item()
    assert got == pytest.approx(F.cross_entropy(Tensor(logits), Tensor(smoothed)).item(), rel=1e-12)


def test_all_ignored_gives_nan_mean_and_zero_sum_like_torch():
    logits = Tensor(np.zeros((2, 3), np.float32), requires_grad=True)
    labels = Tensor(np.array([-100, -100]))
    mean = F.cross_entropy(logits, labels)
    mean.backward()
    assert np.isnan(mean.item()) and not logits.grad.numpy().any()
    logits.grad = None
    total = F.cross_entropy(logits, labels, reduction="sum")
    total.backward()
    assert total.item() == 0.0 and not logits.grad.numpy().any()


@pytest.mark.parametrize("options", [dict(), dict(weight=Tensor(np.array([1.0, 2.0, 0.5], np.float32)),
                                                  label_smoothing=0.1, ignore_index=0)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_stable_and_float32_at_huge_logits(options, reduction):
    logits = Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0], [3.0, -1e4, 1e4]], np.float32),
                    requires_grad=True)
    for target in (Tensor(np.array([1, 1, 2])), Tensor(np.eye(3, dtype=np.float64)[[1, 1, 2]])):
        logits.grad = None
        loss = F.cross_entropy(logits, target, reduction=reduction, **options)
        loss.sum().backward()
        assert loss.dtype == np.float32 and logits.grad.dtype == np.float32
        assert np.isfinite(loss.detach().numpy()).all() and np.isfinite(logits.grad.numpy()).all()
    # the first example is confidently wrong by 2e4
    per_example = F.cross_entropy(logits, Tensor(np.array([1, 1, 2])), reduction="none")
    assert per_example.detach().numpy()[0] == pytest.approx(2e4, rel=1e-6)


def test_float64_weight_and_target_keep_float32():
    logits = Tensor(np.zeros((2, 3), np.float32))
    assert F.cross_entropy(logits, Tensor(np.array([0, 1])), weight=np.ones(3)).dtype == np.float32
    assert F.mse_loss(logits, Tensor(np.ones((2, 3)))).dtype == np.float32
    assert F.l1_loss(logits, np.ones((2, 3))).dtype == np.float32


def test_mse_warns_when_shapes_broadcast():
    with pytest.warns(UserWarning, match=r"mse_loss: target shape \(3,\) differs from input shape \(3, 1\)"):
        F.mse_loss(Tensor(np.zeros((3, 1), np.float32)), Tensor(np.zeros(3, np.float32)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.mse_loss(Tensor(np.zeros(3, np.float32)), Tensor(np.zeros(3, np.float32)))


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.cross_entropy(Tensor(np.zeros((4, 5))), Tensor(np.array([1, 2, 3, 4, 0]))), ValueError,
     r"cross_entropy: got 5 labels \(target shape \(5,\)\) for a batch of 4 logits \(shape \(4, 5\)\)"),
    (lambda: F.cross_entropy(Tensor(np.zeros((2, 5))), Tensor(np.array([1, 7]))), ValueError,
     r"cross_entropy: label 7 is out of range for 5 classes \(expected 0 to 4, or ignore_index=-100\)"),
    (lambda: F.cross_entropy(Tensor(np.zeros((2, 5))), Tensor(np.array([1, 2])), weight=np.ones(4)), ValueError,
     r"cross_entropy: weight must have one entry per class, shape \(5,\), got shape \(4,\)"),
    (lambda: F.cross_entropy(Tensor(np.zeros((2, 5))), Tensor(np.array([1, 2])), reduction="avg"), ValueError,
     r"cross_entropy: reduction must be 'mean', 'sum' or 'none', got 'avg'"),
    (lambda: F.cross_entropy(Tensor(np.zeros((2, 5))), Tensor(np.array([1, 2])), label_smoothing=1.5), ValueError,
     r"cross_entropy: label_smoothing must be in \[0, 1\], got 1.5"),
    (lambda: F.cross_entropy(Tensor(np.zeros((2, 5))), Tensor(np.zeros((2, 4)))), ValueError,
     r"cross_entropy: probability targets must have the logits' shape \(2, 5\), got \(2, 4\)"),
    (lambda: F.cross_entropy(Tensor(np.zeros((2, 5, 3))), Tensor(np.zeros((2, 5), np.int64))), ValueError,
     r"cross_entropy: got 2 labels \(target shape \(2, 5\)\) .* expected target shape \(2, 3\)"),
    (lambda: F.nll_loss(Tensor(np.zeros((2, 5))), Tensor(np.array([0.0, 1.0]))), ValueError,
     r"nll_loss: labels must be integers, got dtype float64"),
    (lambda: F.mse_loss(Tensor(np.zeros((2, 3))), Tensor(np.zeros((4,)))), ValueError,
     r"mse_loss: input shape \(2, 3\) and target shape \(4,\) do not broadcast"),
    (lambda: nn.CrossEntropyLoss(reduction="batchmean"), ValueError,
     r"CrossEntropyLoss: reduction must be 'mean', 'sum' or 'none', got 'batchmean'"),
])
def test_errors_name_the_function_and_what_it_got(call, error, message):
    with pytest.raises(error, match=message):
        call()
