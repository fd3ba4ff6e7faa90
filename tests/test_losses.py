"""Losses: cross_entropy, nll_loss, mse_loss, l1_loss, smooth_l1_loss, huber_loss,
binary_cross_entropy(_with_logits), kl_div and their modules.

Values and gradients against torch (skipped when torch is not installed) for
every reduction, class weights, ignore_index, label smoothing, probability
targets and K-dimensional inputs; gradients against central differences in
float64 (always run); stability, dtypes and error messages."""
import itertools
import warnings

import numpy as np
import pytest

import tinygrad_cnn as tc
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


# --- smooth L1, Huber, binary cross-entropy, KL divergence -----------------------------------

PAIR_SHAPES = {"2d": (4, 3), "1d": (5,), "4d": (2, 3, 2, 2)}


def _regression_pair(shape, rng):
    """Input and target whose differences lie on both sides of 1 and 0.4 but
    away from those thresholds and from 0 (the kinks)."""
    x = rng.standard_normal(shape)
    gaps = rng.choice([0.15, 0.3, 0.6, 0.8, 1.3, 2.0], size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return x, x + gaps


def _binary_case(shape, rng):
    probabilities = rng.uniform(0.05, 0.95, size=shape)
    targets = rng.uniform(0.0, 1.0, size=shape)
    targets.reshape(-1)[::2] = np.round(targets.reshape(-1)[::2])     # hard labels and soft ones
    return probabilities, targets


def _torch_kl_div(torch):
    def kl_div(x, t, **options):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")      # torch's 'mean' warning
            return torch.nn.functional.kl_div(x, t, **options)
    return kl_div


NEW_LOSS_CASES = list(itertools.product(PAIR_SHAPES, REDUCTIONS))


@pytest.mark.parametrize("shape, reduction", NEW_LOSS_CASES, ids=["-".join(case) for case in NEW_LOSS_CASES])
def test_new_losses_match_torch(shape, reduction):
    torch = pytest.importorskip("torch")
    TF = torch.nn.functional
    rng = np.random.default_rng(len(shape) * 7 + REDUCTIONS.index(reduction))
    shape = PAIR_SHAPES[shape]
    x, y = _regression_pair(shape, rng)
    for beta in (1.0, 0.4, 0.0):
        compare_with_torch(lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
                           lambda a, b: TF.smooth_l1_loss(a, b, reduction=reduction, beta=beta), [x, y], rng)
    for delta in (1.0, 0.4, 2.5):
        compare_with_torch(lambda a, b: F.huber_loss(a, b, reduction=reduction, delta=delta),
                           lambda a, b: TF.huber_loss(a, b, reduction=reduction, delta=delta), [x, y], rng)

    probabilities, targets = _binary_case(shape, rng)
    weight = rng.uniform(0.2, 2.0, size=shape[-1:])
    for w in (None, weight):
        compare_with_torch(
            lambda a, b: F.binary_cross_entropy(a, b, weight=None if w is None else Tensor(w), reduction=reduction),
            lambda a, b: TF.binary_cross_entropy(a, b, weight=None if w is None else torch.tensor(w),
                                                 reduction=reduction),
            [probabilities, targets], rng)

    logits = rng.standard_normal(shape) * 3
    pos_weight = rng.uniform(0.5, 3.0, size=shape[-1:])
    for w, p in ((None, None), (weight, None), (None, pos_weight), (weight, pos_weight)):
        compare_with_torch(
            lambda a, b: F.binary_cross_entropy_with_logits(
                a, b, weight=None if w is None else Tensor(w), pos_weight=None if p is None else Tensor(p),
                reduction=reduction),
            lambda a, b: TF.binary_cross_entropy_with_logits(
                a, b, weight=None if w is None else torch.tensor(w), pos_weight=None if p is None else torch.tensor(p),
                reduction=reduction),
            [logits, targets], rng)

    log_probs = np.log(probabilities_for(shape, rng))
    target_probs = probabilities_for(shape, rng)   # zero targets: in the hand-computed test (torch's
                                                   # target gradient is NaN there)
    kl_torch = _torch_kl_div(torch)
    for kl_reduction in (reduction, "batchmean"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compare_with_torch(lambda a, b: F.kl_div(a, b, reduction=kl_reduction),
                               lambda a, b: kl_torch(a, b, reduction=kl_reduction), [log_probs, target_probs], rng)
            compare_with_torch(lambda a, b: F.kl_div(a, b, reduction=kl_reduction, log_target=True),
                               lambda a, b: kl_torch(a, b, reduction=kl_reduction, log_target=True),
                               [log_probs, np.log(probabilities_for(shape, rng))], rng)


def test_new_loss_modules_match_torch_and_their_functions():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    x, y = _regression_pair((4, 3), rng)
    probabilities, targets = _binary_case((4, 3), rng)
    weight, pos_weight = rng.uniform(0.2, 2.0, size=3), rng.uniform(0.5, 3.0, size=3)
    pairs = [
        (nn.SmoothL1Loss(reduction="sum", beta=0.5), torch.nn.SmoothL1Loss(reduction="sum", beta=0.5), x, y),
        (nn.HuberLoss(reduction="none", delta=0.7), torch.nn.HuberLoss(reduction="none", delta=0.7), x, y),
        (nn.BCELoss(weight=Tensor(weight)), torch.nn.BCELoss(weight=torch.tensor(weight)), probabilities, targets),
        (nn.BCEWithLogitsLoss(pos_weight=Tensor(pos_weight)), torch.nn.BCEWithLogitsLoss(
            pos_weight=torch.tensor(pos_weight)), x, targets),
        (nn.KLDivLoss(reduction="batchmean"), torch.nn.KLDivLoss(reduction="batchmean"),
         np.log(probabilities_for((4, 3), rng)), probabilities_for((4, 3), rng)),
        (nn.KLDivLoss(reduction="sum", log_target=True), torch.nn.KLDivLoss(reduction="sum", log_target=True),
         np.log(probabilities_for((4, 3), rng)), np.log(probabilities_for((4, 3), rng))),
    ]
    for ours, theirs, a, b in pairs:
        compare_with_torch(lambda z: ours(z, Tensor(b)), lambda z: theirs(z, torch.tensor(b)), [a], rng)
        assert repr(ours) == repr(theirs)
    # weight and pos_weight are buffers, as in PyTorch
    assert sorted(nn.BCEWithLogitsLoss(weight=weight, pos_weight=pos_weight).state_dict()) == \
        sorted(torch.nn.BCEWithLogitsLoss(weight=torch.tensor(weight), pos_weight=torch.tensor(pos_weight))
               .state_dict())


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_new_losses_gradcheck(reduction):
    rng = np.random.default_rng(13)
    x, y = _regression_pair((3, 4), rng)
    for beta in (1.0, 0.4, 0.0):
        assert gradcheck(lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=beta), [x, y])
    assert gradcheck(lambda a, b: F.huber_loss(a, b, reduction=reduction, delta=0.4), [x, y])
    assert gradgradcheck(lambda a, b: F.huber_loss(a, b, reduction=reduction, delta=1.5), [x, y])

    probabilities, targets = _binary_case((3, 4), rng)
    weight = Tensor(rng.uniform(0.2, 2.0, size=4))
    pos_weight = Tensor(rng.uniform(0.5, 3.0, size=4))
    bce = lambda a, b: F.binary_cross_entropy(a, b, weight=weight, reduction=reduction)   # noqa: E731
    assert gradcheck(bce, [probabilities, targets])
    assert gradgradcheck(bce, [probabilities, targets])
    logits = rng.standard_normal((3, 4)) * 3
    logits[0, :2] = 0.0                          # the log-sum-exp form has no kink at 0
    bce_logits = lambda a, b: F.binary_cross_entropy_with_logits(   # noqa: E731
        a, b, weight=weight, pos_weight=pos_weight, reduction=reduction)
    assert gradcheck(bce_logits, [logits, targets])
    assert gradgradcheck(bce_logits, [logits, targets])

    log_probs, target_probs = np.log(probabilities_for((3, 4), rng)), probabilities_for((3, 4), rng)
    for kl_reduction in (reduction, "batchmean"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert gradcheck(lambda a, b: F.kl_div(a, b, reduction=kl_reduction), [log_probs, target_probs])
            assert gradcheck(lambda a, b: F.kl_div(a, b, reduction=kl_reduction, log_target=True),
                             [log_probs, np.log(target_probs)])


def test_new_losses_hand_computed_values():
    x, y = Tensor(np.array([0.0, 0.0, 0.0])), Tensor(np.array([0.5, -2.0, 1.0]))
    np.testing.assert_allclose(F.smooth_l1_loss(x, y, reduction="none").numpy(), [0.125, 1.5, 0.5])
    np.testing.assert_allclose(F.smooth_l1_loss(x, y, reduction="none", beta=0.0).numpy(), [0.5, 2.0, 1.0])
    np.testing.assert_allclose(F.huber_loss(x, y, reduction="none", delta=2.0).numpy(), [0.125, 2.0, 0.5])
    assert F.smooth_l1_loss(x, y).item() == pytest.approx(2.125 / 3)
    p, t = Tensor(np.array([0.5, 0.25])), Tensor(np.array([1.0, 0.0]))
    np.testing.assert_allclose(F.binary_cross_entropy(p, t, reduction="none").numpy(), [np.log(2), -np.log(0.75)])
    logits = Tensor(np.array([0.0, np.log(3.0)]))
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(logits, t, reduction="none").numpy(),
                               [np.log(2), np.log(4.0)])
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(logits, t, reduction="none",
                                                                  pos_weight=Tensor(np.array([3.0]))).numpy(),
                               [3 * np.log(2), np.log(4.0)])
    # KL(p || q) of two distributions per row; batchmean is the mean of the row KLs
    p_rows, q_rows = np.array([[0.5, 0.5], [1.0, 0.0]]), np.array([[0.25, 0.75], [0.5, 0.5]])
    expected = np.array([0.5 * np.log(2) + 0.5 * np.log(0.5 / 0.75), np.log(2)])
    got = F.kl_div(Tensor(np.log(q_rows)), Tensor(p_rows), reduction="batchmean").item()
    assert got == pytest.approx(expected.mean())
    with pytest.warns(UserWarning, match="kl_div: reduction='mean' divides the total loss by both"):
        assert F.kl_div(Tensor(np.log(q_rows)), Tensor(p_rows)).item() == pytest.approx(expected.sum() / 4)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_losses_stay_finite_and_float32_at_extremes(reduction):
    probabilities = Tensor(np.array([0.0, 1.0, 0.0, 1.0, 1e-30, 0.5], np.float32), requires_grad=True)
    targets = Tensor(np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.5], np.float32))
    loss = F.binary_cross_entropy(probabilities, targets, reduction=reduction)
    loss.sum().backward()
    assert loss.dtype == np.float32 and probabilities.grad.dtype == np.float32
    assert np.isfinite(loss.detach().numpy()).all() and np.isfinite(probabilities.grad.numpy()).all()
    if reduction == "none":
        np.testing.assert_allclose(loss.detach().numpy()[:4], [100.0, 100.0, 0.0, 0.0])   # log clamped at -100

    logits = Tensor(np.array([1e4, -1e4, 1e4, -1e4, 0.0], np.float32), requires_grad=True)
    targets = Tensor(np.array([1.0, 0.0, 0.0, 1.0, 1.0], np.float32))
    loss = F.binary_cross_entropy_with_logits(logits, targets, reduction=reduction,
                                              pos_weight=Tensor(np.array([2.0], np.float32)))
    loss.sum().backward()
    assert loss.dtype == np.float32 and logits.grad.dtype == np.float32
    assert np.isfinite(loss.detach().numpy()).all() and np.isfinite(logits.grad.numpy()).all()
    if reduction == "none":
        np.testing.assert_allclose(loss.detach().numpy(), [0.0, 0.0, 1e4, 2e4, 2 * np.log(2)], rtol=1e-6)
        np.testing.assert_allclose(logits.grad.numpy(), [0.0, 0.0, 1.0, -2.0, -1.0], atol=1e-7)


def test_new_losses_float64_targets_keep_float32():
    x = Tensor(np.full((2, 3), 0.5, np.float32))
    target = np.ones((2, 3))
    for loss in (F.smooth_l1_loss(x, target), F.huber_loss(x, target), F.binary_cross_entropy(x, target),
                 F.binary_cross_entropy_with_logits(x, target, weight=np.ones(3), pos_weight=np.ones(3)),
                 F.kl_div(x, target, reduction="batchmean")):
        assert loss.dtype == np.float32


@pytest.mark.parametrize("call, message", [
    (lambda: F.binary_cross_entropy(Tensor(np.array([0.5, 1.5])), Tensor(np.array([1.0, 0.0]))),
     r"binary_cross_entropy: input values must be probabilities in \[0, 1\], got 1.5"),
    (lambda: F.binary_cross_entropy(Tensor(np.array([0.5, 0.5])), Tensor(np.array([1.0]))),
     r"binary_cross_entropy: target shape \(1,\) must equal input shape \(2,\)"),
    (lambda: F.binary_cross_entropy_with_logits(Tensor(np.zeros((2, 3))), Tensor(np.zeros((2, 3))),
                                                pos_weight=np.ones(2)),
     r"binary_cross_entropy_with_logits: pos_weight of shape \(2,\) does not broadcast to the input's shape \(2, 3\)"),
    (lambda: F.smooth_l1_loss(Tensor(np.zeros(2)), Tensor(np.zeros(2)), beta=-1.0),
     r"smooth_l1_loss: beta must be >= 0, got -1.0"),
    (lambda: nn.HuberLoss(delta=0.0), r"HuberLoss: delta must be > 0, got 0.0"),
    (lambda: F.kl_div(Tensor(np.zeros(2)), Tensor(np.zeros(2)), reduction="avg"),
     r"kl_div: reduction must be 'mean', 'batchmean', 'sum' or 'none', got 'avg'"),
    (lambda: nn.BCELoss(reduction="batchmean"), r"BCELoss: reduction must be 'mean', 'sum' or 'none'"),
])
def test_new_loss_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("batch", [1, 2])
def test_a_certain_prediction_loses_plus_zero_as_in_pytorch(batch, fast_kernels):
    """A log-probability of exactly 0 at the label: the mean and the sum are +0.0 (PyTorch
    prints 0.0), with the batch-of-one kernel as with the reference; 'none' keeps -0.0, as
    PyTorch's does."""
    log_probs = Tensor(np.tile(np.array([[0.0, -50.0]], np.float32), (batch, 1)))
    labels = tc.tensor([0] * batch)
    for reduction in ("mean", "sum"):
        for kernel_set in ("fast", "reference"):
            with tc.kernels.use(kernel_set):
                value = F.nll_loss(log_probs, labels, reduction=reduction).item()
            assert value == 0.0 and not np.signbit(value), (reduction, kernel_set)
    with tc.kernels.use("fast"):
        assert np.signbit(F.nll_loss(log_probs, labels, reduction="none").data).all()
    try:
        import torch
    except ImportError:
        return
    theirs = torch.nn.functional.nll_loss(torch.tensor(log_probs.data), torch.tensor([0] * batch))
    assert not np.signbit(theirs.item())
