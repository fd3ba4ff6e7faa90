"""What ``grad_fn`` shows: PyTorch's node names for ops and for functionals
built from several ops (``binary_cross_entropy_with_logits`` is
BinaryCrossEntropyWithLogitsBackward0, not its last inner op), and
next_functions that lead to the function's inputs; compared with torch."""
import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.grad_fn import named_backward

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 3)).astype(np.float32)
TARGET = RNG.random((4, 3)).astype(np.float32)
IMAGES = RNG.standard_normal((2, 3, 5, 5)).astype(np.float32)
CLASSES = np.array([0, 2, 1, 1])

# name -> function of (F, tensor constructor, x, target, images) giving a tensor with a grad_fn
CASES = {
    "bce_with_logits": lambda F, T, x, t, im: F.binary_cross_entropy_with_logits(x, t),
    "bce_with_logits_none_pos_weight": lambda F, T, x, t, im: F.binary_cross_entropy_with_logits(
        x, t, reduction="none", pos_weight=T(np.ones(3, np.float32))),
    "bce": lambda F, T, x, t, im: F.binary_cross_entropy(x.sigmoid(), t),
    "bce_none": lambda F, T, x, t, im: F.binary_cross_entropy(x.sigmoid(), t, reduction="none"),
    "smooth_l1": lambda F, T, x, t, im: F.smooth_l1_loss(x, t),
    "smooth_l1_none": lambda F, T, x, t, im: F.smooth_l1_loss(x, t, reduction="none", beta=0.5),
    "huber": lambda F, T, x, t, im: F.huber_loss(x, t, delta=0.3),
    "l1": lambda F, T, x, t, im: F.l1_loss(x, t),
    "mse": lambda F, T, x, t, im: F.mse_loss(x, t),
    "cross_entropy": lambda F, T, x, t, im: F.cross_entropy(x, T(CLASSES)),
    "nll": lambda F, T, x, t, im: F.nll_loss(F.log_softmax(x, 1), T(CLASSES)),
    "softplus": lambda F, T, x, t, im: F.softplus(x, beta=2.0),
    "logsigmoid": lambda F, T, x, t, im: F.logsigmoid(x),
    "hardtanh": lambda F, T, x, t, im: F.hardtanh(x, -0.5, 0.5),
    "relu6": lambda F, T, x, t, im: F.relu6(x),
    "layer_norm": lambda F, T, x, t, im: F.layer_norm(x, (3,), T(np.ones(3, np.float32))),
    "batch_norm_eval": lambda F, T, x, t, im: F.batch_norm(im, T(np.zeros(3, np.float32)), T(np.ones(3, np.float32)),
                                                         training=False),
    "batch_norm_train": lambda F, T, x, t, im: F.batch_norm(im, None, None, training=True),
    "conv_transpose2d_bias": lambda F, T, x, t, im: F.conv_transpose2d(im, T(np.ones((3, 2, 3, 3), np.float32)),
                                                                       T(np.ones(2, np.float32))),
    "linear_no_bias": lambda F, T, x, t, im: F.linear(x, T(np.ones((5, 3), np.float32))),
    "linear": lambda F, T, x, t, im: F.linear(x, T(np.ones((5, 3), np.float32)), T(np.ones(5, np.float32))),
    "pad": lambda F, T, x, t, im: F.pad(im, (1, 1, 2, 0)),
    "adaptive_avg": lambda F, T, x, t, im: F.adaptive_avg_pool2d(im, 2),
    "adaptive_max": lambda F, T, x, t, im: F.adaptive_max_pool2d(im, 2),
    "flatten": lambda F, T, x, t, im: im.flatten(1),
    "softmin": lambda F, T, x, t, im: F.softmin(x, 1),
}


def _run(case, module, functional, make):
    x = make(X, requires_grad=True)
    images = make(IMAGES, requires_grad=True)
    return CASES[case](functional, lambda a: make(a), x, make(TARGET), images)


def test_composite_functionals_are_named_for_the_whole_function():
    out = F.binary_cross_entropy_with_logits(tc.tensor(X, requires_grad=True), tc.tensor(TARGET))
    assert repr(out).endswith("grad_fn=<BinaryCrossEntropyWithLogitsBackward0>)")
    assert out.grad_fn.name() == "BinaryCrossEntropyWithLogitsBackward0"
    out.backward()                                       # the name outlives the saved values
    assert repr(out.grad_fn).startswith("<BinaryCrossEntropyWithLogitsBackward0 object")
    assert out.grad_fn.next_functions == ()
    with tc.no_grad():
        assert F.softplus(tc.tensor(X, requires_grad=True)).grad_fn is None


def test_next_functions_lead_to_the_functions_inputs():
    x = tc.tensor(X, requires_grad=True)
    hidden = x * 2
    out = F.binary_cross_entropy_with_logits(hidden, tc.tensor(TARGET))
    (first, _), (second, _) = out.grad_fn.next_functions
    assert first.name() == "MulBackward0" and second is None
    assert first.next_functions[0][0].variable is x
    norm = F.layer_norm(x, (3,), tc.ones(3, requires_grad=True))
    assert [type(f).__name__ for f, _ in norm.grad_fn.next_functions] == ["AccumulateGrad", "AccumulateGrad", "NoneType"]


def test_a_users_composite_and_a_pass_through_input():
    @named_backward("SquaredHingeBackward0", inputs=("scores",))
    def squared_hinge(scores, margin=1.0):
        return (margin - scores).relu().square().mean()

    @named_backward("MaybeBackward0")
    def identity_when_zero(input, scale=0.0):
        return input if scale == 0.0 else input * scale

    x = tc.tensor(X, requires_grad=True)
    loss = squared_hinge(x)
    assert loss.grad_fn.name() == "SquaredHingeBackward0"
    loss.backward()
    np.testing.assert_allclose(x.grad.data, -2 * np.maximum(1 - X, 0) / X.size, rtol=1e-6)
    hidden = x * 3
    assert identity_when_zero(hidden).grad_fn.name() == "MulBackward0"      # not renamed: it is the input
    assert identity_when_zero(hidden, 2.0).grad_fn.name() == "MaybeBackward0"


@pytest.mark.parametrize("case", CASES)
def test_grad_fn_names_match_torch(case):
    torch = pytest.importorskip("torch")
    ours = _run(case, tc, F, lambda a, requires_grad=False: tc.tensor(a, requires_grad=requires_grad))
    theirs = _run(case, torch, torch.nn.functional,
                  lambda a, requires_grad=False: torch.tensor(a, requires_grad=requires_grad))
    assert ours.grad_fn.name() == theirs.grad_fn.name()
    if case in ("bce", "bce_none", "softmin"):        # torch's own composites inside
        return
    # the nodes the gradient flows to (an input that needs none is None in both, where listed)
    ours_next = [f.name() for f, _ in ours.grad_fn.next_functions if f is not None]
    theirs_next = [f.name() for f, _ in theirs.grad_fn.next_functions if f is not None]
    assert ours_next == theirs_next
