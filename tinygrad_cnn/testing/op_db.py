"""How the property tests draw inputs for each built-in op: a table op name ->
``Spec``, kept on the testing side and attached to the ops from here (as
PyTorch's ``op_db`` of ``OpInfo``s is), so that the ops never name a test
module.

An op may also carry a Spec given at registration (``defop(name,
spec=Spec(...))``: a user's op, an ``autograd.Function`` with a ``spec``
attribute); :func:`attach` leaves such an op's Spec as it is, so the table
only fills in the ops that have none. A new built-in op gets its row here.
"""
from __future__ import annotations

import numpy as np

from ..registry import registered_ops
from ..spec import Spec
from . import cases, nn_cases


def _bce_reference(x, target):
    """PyTorch's binary cross-entropy: each log clamped at -100."""
    with np.errstate(divide="ignore"):
        return -(target * np.maximum(np.log(x), -100.0) + (1 - target) * np.maximum(np.log1p(-x), -100.0))


_BINARY = Spec(nargs=2, broadcast=True)

OP_SPECS: dict[str, Spec] = {
    # elementwise
    "add": _BINARY, "sub": _BINARY, "mul": _BINARY,
    "div": Spec(nargs=2, broadcast=True, domain=[(-3, 3), (0.5, 3)]),
    "pow": Spec(nargs=2, broadcast=True, domain=[(0.5, 2.5), (-2, 2)]),
    "maximum": Spec(nargs=2, broadcast=True, distinct=True),
    "minimum": Spec(nargs=2, broadcast=True, distinct=True),
    "neg": Spec(), "exp": Spec(), "tanh": Spec(), "sin": Spec(), "cos": Spec(),
    "log": Spec(domain=(0.2, 4)), "sqrt": Spec(domain=(0.2, 4)),
    "sigmoid": Spec(domain=(-6, 6)),
    "relu": Spec(avoid=(0.0,)), "abs": Spec(avoid=(0.0,)),     # away from the kink
    "clip": Spec(cases=cases.clip_cases),
    "astype": Spec(cases=cases.astype_cases, keeps_dtype=False),
    "where": Spec(cases=cases.where_cases),
    # reductions
    "sum": Spec(cases=cases.reduction_cases),
    "mean": Spec(cases=cases.reduction_cases),
    "amax": Spec(cases=cases.reduction_cases, distinct=True),
    "amin": Spec(cases=cases.reduction_cases, distinct=True),
    "var": Spec(cases=cases.var_cases),
    "cumsum": Spec(cases=cases.cumsum_cases),
    # movement
    "reshape": Spec(cases=cases.reshape_cases),
    "permute": Spec(cases=cases.transpose_cases),
    "flatten": Spec(cases=cases.flatten_cases),
    "broadcast_to": Spec(cases=cases.broadcast_to_cases),
    "pad": Spec(cases=cases.pad_cases),
    "getitem": Spec(cases=cases.getitem_cases),
    "index_add": Spec(cases=cases.index_add_cases),
    "index_put": Spec(cases=cases.index_put_cases),
    "concatenate": Spec(cases=cases.concatenate_cases),
    "stack": Spec(cases=cases.stack_cases),
    "clone": Spec(),
    # linalg
    "matmul": Spec(cases=cases.matmul_cases),
    "linear": Spec(cases=nn_cases.linear_cases),
    # losses
    "softmax": Spec(cases=nn_cases.softmax_cases),
    "log_softmax": Spec(cases=nn_cases.softmax_cases),
    "nll_loss": Spec(cases=nn_cases.nll_loss_cases),
    "binary_cross_entropy": Spec(nargs=2, domain=[(0.05, 0.95), (0.0, 1.0)], reference=_bce_reference),
    "mse_loss": _BINARY,
    # activations
    "erf": Spec(), "silu": Spec(),
    "leaky_relu": Spec(cases=nn_cases.leaky_relu_cases),
    "elu": Spec(cases=nn_cases.elu_cases),
    "gelu": Spec(cases=nn_cases.gelu_cases),
    # normalisation
    "batch_norm": Spec(cases=nn_cases.batch_norm_cases),
    # convolution and pooling
    "conv2d": Spec(cases=nn_cases.conv2d_cases),
    "conv_transpose2d": Spec(cases=nn_cases.conv_transpose2d_cases),
    "conv2d_weight": Spec(cases=nn_cases.conv2d_weight_cases),
    "max_pool2d": Spec(cases=nn_cases.max_pool2d_cases),
    "avg_pool2d": Spec(cases=nn_cases.avg_pool2d_cases),
    "adaptive_avg_pool2d": Spec(cases=nn_cases.adaptive_pool2d_cases),
    "adaptive_max_pool2d": Spec(cases=nn_cases.adaptive_max_pool2d_cases),
    # diagonals, rounding, einsum
    "round": Spec(cases=cases.round_cases),
    "diagonal": Spec(cases=cases.diagonal_cases),
    "diag_embed": Spec(cases=cases.diag_embed_cases),
    "einsum": Spec(cases=cases.einsum_cases),
}


def attach(specs: dict | None = None) -> None:
    """Give each registered op named in ``specs`` (default: the table above)
    its Spec, unless it was registered with one."""
    ops = registered_ops()
    for name, spec in (OP_SPECS if specs is None else specs).items():
        op = ops.get(name)
        if op is not None and op.spec is None:
            op.spec = spec
