"""Errors of PyTorch's kind: shape errors are RuntimeError (as PyTorch raises)
and still ValueError (as numpy, and this package before, raised), with
messages that name the op and the shapes; a float64 or integer batch into a
float32 Linear or Conv2d is an error, as in PyTorch, while Tensor arithmetic
keeps its type promotion; a class label out of range is an IndexError (as PyTorch raises) and
still a ValueError. Each compared with torch's class when installed."""
import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn as nn
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.errors import LabelError, ShapeError


def _shape_cases(torch_like):
    T, nn_, F_ = torch_like, torch_like.nn, torch_like.nn.functional
    return {
        "matmul": (lambda: T.ones(2, 3) @ T.ones(4, 5), r"matmul: \(2, 3\) @ \(4, 5\): inner dimensions 3 and 4 differ"),
        "mm": (lambda: T.mm(T.ones(2, 3), T.ones(4, 5)), r"matmul: \(2, 3\) @ \(4, 5\)"),
        "linear": (lambda: nn_.Linear(4, 3)(T.ones(2, 5)), r"linear: input has 5 features .* weight expects 4"),
        "conv_channels": (lambda: nn_.Conv2d(2, 4, 3)(T.ones(1, 3, 8, 8)), r"conv2d: input has 3 channels but weight expects 2"),
        "conv_kernel": (lambda: nn_.Conv2d(1, 4, 7)(T.ones(1, 1, 4, 4)), r"conv2d: kernel 7x7"),
        "conv_dims": (lambda: nn_.Conv2d(1, 4, 3)(T.ones(4, 4)), r"conv2d: expected a 3-D \(unbatched"),
        "pool_window": (lambda: F_.max_pool2d(T.ones(1, 1, 3, 3), 4), r"max_pool2d: pool window 4x4 is larger"),
        "reshape": (lambda: T.ones(6).reshape(4, 2), r"reshape: cannot reshape a tensor of shape \(6,\) \(6 elements\) into shape \(4, 2\)"),
        "view": (lambda: T.ones(6).view(4, 2), r"reshape: cannot reshape"),
        "broadcast": (lambda: T.ones(3) + T.ones(4), r"add: shapes \(3,\) and \(4,\) do not broadcast"),
        "broadcast_mul": (lambda: T.ones(2, 3) * T.ones(2, 4), r"mul: shapes \(2, 3\) and \(2, 4\) do not broadcast"),
        "expand": (lambda: T.ones(3).expand(4), r"broadcast_to: cannot broadcast shape \(3,\) to \(4,\)"),
        "cat": (lambda: T.cat([T.ones(2, 3), T.ones(2, 4)]), r"concatenate: tensors must have the same shape except along axis 0"),
        "stack": (lambda: T.stack([T.ones(2, 3), T.ones(2, 4)]), r"stack: tensors must have the same shape"),
        "mse": (lambda: F_.mse_loss(T.ones(3), T.ones(4)), r"mse_loss: input shape \(3,\) and target shape \(4,\) do not broadcast"),
        "cross_entropy_probabilities": (lambda: F_.cross_entropy(T.ones(4, 3), T.ones(4, 2)),
                                        r"cross_entropy: probability targets must have the logits' shape \(4, 3\)"),
        "sequential": (lambda: nn_.Sequential(nn_.Linear(4, 3), nn_.Linear(2, 1))(T.ones(1, 4)),
                       r"layer 1 \(Linear\(in_features=2, .*\)\) got input of shape .*: linear: input has 3 features"),
        "einsum": (lambda: T.einsum("ij,jk->ik", T.ones(2, 3), T.ones(4, 5)), r"einsum: subscript 'j' has size 4"),
    }


SHAPE_CASES = _shape_cases(tc)


@pytest.mark.parametrize("case", SHAPE_CASES)
def test_shape_errors_are_runtime_errors_and_value_errors(case):
    call, message = SHAPE_CASES[case]
    with pytest.raises(RuntimeError, match=message) as info:
        call()
    assert isinstance(info.value, ValueError) and isinstance(info.value, ShapeError)
    with pytest.raises(ValueError):          # code written for the old class keeps working
        call()


@pytest.mark.parametrize("case", SHAPE_CASES)
def test_torch_raises_runtime_error_there_too(case):
    torch = pytest.importorskip("torch")
    call, _ = _shape_cases(torch)[case]
    with pytest.raises(RuntimeError):
        call()


def _label_cases(torch_like):
    T, nn_, F_ = torch_like, torch_like.nn, torch_like.nn.functional
    return {
        "cross_entropy_above": (lambda: F_.cross_entropy(T.zeros(2, 5), T.tensor([1, 7])),
                                r"cross_entropy: label 7 is out of range for 5 classes"),
        "cross_entropy_negative": (lambda: F_.cross_entropy(T.zeros(2, 5), T.tensor([-3, 1])), r"label -3"),
        "cross_entropy_batch_of_one": (lambda: F_.cross_entropy(T.zeros(1, 5), T.tensor([5])), r"label 5"),
        "nll_loss": (lambda: F_.nll_loss(T.zeros(2, 5), T.tensor([0, 9])), r"nll_loss: label 9"),
        "module": (lambda: nn_.CrossEntropyLoss()(T.zeros(3, 4), T.tensor([0, 4, 1])), r"label 4"),
    }


LABEL_CASES = _label_cases(tc)


@pytest.mark.parametrize("case", LABEL_CASES)
def test_a_label_out_of_range_is_an_index_error_and_a_value_error(case):
    """PyTorch raises IndexError ("Target 7 is out of bounds"); this package raised ValueError
    before: LabelError is both, with a message that names the loss, the label and the classes."""
    call, message = LABEL_CASES[case]
    with pytest.raises(IndexError, match=message) as info:
        call()
    assert isinstance(info.value, ValueError) and isinstance(info.value, LabelError)


@pytest.mark.parametrize("case", LABEL_CASES)
def test_torch_raises_index_error_there_too(case):
    torch = pytest.importorskip("torch")
    call, _ = _label_cases(torch)[case]
    with pytest.raises(IndexError):
        call()


def test_label_batch_mismatch_is_a_value_error_as_in_pytorch():
    with pytest.raises(ValueError, match=r"cross_entropy: got 3 labels .* for a batch of 4"):
        F.cross_entropy(tc.ones(4, 3), tc.tensor([0, 1, 2]))
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError):
        torch.nn.functional.cross_entropy(torch.ones(4, 3), torch.tensor([0, 1, 2]))


def _dtype_cases(T):
    nn_ = T.nn
    return {
        "linear_float64": (lambda: nn_.Linear(4, 3)(T.ones(2, 4, dtype=T.float64)),
                           r"linear: mat1 and mat2 must have the same dtype, but got Double and Float "
                           r"\(input torch.float64, weight torch.float32\)"),
        "linear_long": (lambda: nn_.Linear(4, 3)(T.ones(2, 4, dtype=T.long)), r"but got Long and Float"),
        "linear_1d_float64": (lambda: nn_.Linear(4, 3, bias=False)(T.ones(4, dtype=T.float64)), r"linear: mat1 and mat2"),
        "functional_linear": (lambda: T.nn.functional.linear(T.ones(2, 4), T.ones(3, 4, dtype=T.float64)), r"linear: "),
        "conv_uint8": (lambda: nn_.Conv2d(1, 2, 3)(T.ones(1, 1, 5, 5, dtype=T.uint8)),
                       r"conv2d: Input type \(unsigned char\) and weight type \(float\) should be the same"),
        "conv_float64": (lambda: nn_.Conv2d(1, 2, 3)(T.ones(1, 1, 5, 5, dtype=T.float64)),
                         r"conv2d: Input type \(double\) and weight type \(float\) should be the same"),
        "conv_no_bias_float64": (lambda: nn_.Conv2d(1, 2, 3, bias=False)(T.ones(3, 5, 5, dtype=T.float64).narrow(0, 0, 1)),
                                 r"conv2d: Input type \(double\)"),
        "conv_transpose_float64": (lambda: nn_.ConvTranspose2d(1, 2, 3)(T.ones(1, 1, 5, 5, dtype=T.float64)),
                                   r"conv_transpose2d: Input type \(double\)"),
        "batch_norm_float64": (lambda: nn_.BatchNorm2d(1)(T.ones(2, 1, 3, 3, dtype=T.float64)),
                               r"batch_norm: mixed dtype \(CPU\): all inputs must share same datatype"),
    }


DTYPE_CASES = _dtype_cases(tc)


@pytest.mark.parametrize("case", DTYPE_CASES)
def test_a_layers_input_must_have_its_dtype(case):
    call, message = DTYPE_CASES[case]
    with pytest.raises(RuntimeError, match=message):
        call()


@pytest.mark.parametrize("case", DTYPE_CASES)
def test_torch_raises_for_the_same_dtype_mismatches(case):
    torch = pytest.importorskip("torch")
    call, _ = _dtype_cases(torch)[case]
    with pytest.raises(RuntimeError):
        call()


def test_matching_dtypes_run_and_arithmetic_still_promotes():
    layer = nn.Linear(4, 3).double()
    assert layer(tc.ones(2, 4, dtype=tc.float64)).dtype == tc.float64
    conv = nn.Conv2d(1, 2, 3)
    assert conv(tc.ones(1, 1, 5, 5)).dtype == tc.float32
    assert conv(tc.ones(1, 1, 5, 5, dtype=tc.uint8).float()).shape == (1, 2, 3, 3)
    # Tensor arithmetic keeps its own rules
    assert (tc.ones(2, dtype=tc.float64) * tc.ones(2)).dtype == tc.float64
    assert (tc.ones(2, 3, dtype=tc.float64) @ tc.ones(3, 2)).dtype == tc.float64
    assert (tc.tensor([1, 2]) * 0.5).dtype == tc.float32
    batch = tc.tensor(np.random.default_rng(0).random((2, 4)))       # numpy's float64 stays float64 ...
    with pytest.raises(RuntimeError, match="convert the input with .to\\(torch.float32\\)"):
        nn.Linear(4, 3)(batch)                                          # ... so the layer says what to do
    assert nn.Linear(4, 3)(batch.float()).shape == (2, 3)
