"""PyTorch's ``torch.autograd`` names: ``Function`` for ops written as a
forward and a backward on Tensors, ``grad``, ``backward``, anomaly detection.

A ``Function`` subclass is registered as an op under its class name, so the
engine records it like a built-in op and ``tinygrad_cnn.testing`` can
property-test it (``op_test(MyFunction)``). Its ``backward`` written with
Tensor ops is differentiable again (``create_graph=True``)."""
import numpy as np

from . import engine
from .anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly  # noqa: F401
from .engine import backward, grad  # noqa: F401
from .grad_mode import enable_grad, no_grad, set_grad_enabled  # noqa: F401
from .tensor import Tensor, _wrap

__all__ = ["Function", "FunctionCtx", "grad", "backward", "no_grad", "enable_grad",
           "set_grad_enabled", "detect_anomaly", "set_detect_anomaly", "Variable"]


class FunctionCtx:
    """The ``ctx`` a Function's forward and backward share."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self.to_save = ()
        self.saved_tensors = ()
        self.materialize_grads = True

    def save_for_backward(self, *tensors) -> None:
        """Keep input or output Tensors (or None) for the backward."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward: can only save tensors (or None), got "
                                f"{type(t).__name__}; store other values as ctx attributes")
        self.to_save = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        pass

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = bool(value)


def _function_forward(ctx, *arrays, function, layout=None):
    """The registered op's numpy forward: run the user's Tensor forward."""
    if layout is None:              # called as a plain op: every argument a tensor
        layout = (("tensor", None),) * len(arrays)
    inputs = [_wrap(a) for a in arrays]
    args = _rebuild(inputs, layout)
    user_ctx = FunctionCtx(_needs(ctx.needs_input_grad, layout))
    with engine.no_grad():
        out = function.forward(user_ctx, *args)
    if isinstance(out, tuple):
        raise NotImplementedError(f"{function.__name__}.forward returned {len(out)} outputs; "
                                  "a Function here returns one Tensor")
    if not isinstance(out, Tensor):
        raise TypeError(f"{function.__name__}.forward must return a Tensor, got {type(out).__name__}")
    # saved tensors are matched to the graph's own input/output objects later,
    # so that a backward under create_graph differentiates through them
    ctx.save(user_ctx=user_ctx, proxies=inputs, out_proxy=out)
    return out.data


def _needs(needs, layout):
    flags, position = [], 0
    for kind, _ in layout:
        if kind == "tensor":
            flags.append(bool(needs[position]) if needs else False)
            position += 1
        else:
            flags.append(False)
    return tuple(flags)


def _rebuild(tensors, layout):
    """Positional arguments again: tensors where they were, constants in between."""
    args, position = [], 0
    for kind, value in layout:
        if kind == "tensor":
            args.append(tensors[position])
            position += 1
        else:
            args.append(value)
    return args


def _function_vjp(ctx, grad_out):
    saved = ctx.saved
    user_ctx, proxies, out_proxy = saved["user_ctx"], saved["proxies"], saved["out_proxy"]
    real = {id(p): t for p, t in zip(proxies, ctx.inputs)}
    real[id(out_proxy)] = ctx.out
    user_ctx.saved_tensors = tuple(None if t is None else real.get(id(t), t) for t in user_ctx.to_save)
    function = _OWNERS[ctx.op.name]
    layout = ctx.params.get("layout") or (("tensor", None),) * len(ctx.inputs)
    grads = function.backward(user_ctx, grad_out)
    if not isinstance(grads, tuple):
        grads = (grads,)
    if len(grads) < len(layout):
        raise RuntimeError(f"{function.__name__}.backward returned {len(grads)} gradients but forward "
                           f"took {len(layout)} arguments (return None for arguments without one)")
    result = []
    for (kind, _), g in zip(layout, grads):
        if kind == "tensor":
            result.append(g if g is None or isinstance(g, Tensor) else Tensor(np.asarray(g)))
    return tuple(result)


_OWNERS = {}      # registered op name -> its Function class


class Function:
    """Subclass with ``@staticmethod forward(ctx, *args)`` and
    ``@staticmethod backward(ctx, *grad_outputs)``, then call ``.apply(...)``.
    ``ctx.save_for_backward(*tensors)`` / ``ctx.saved_tensors`` and
    ``ctx.needs_input_grad`` work as in PyTorch; other values can be stored
    as attributes of ``ctx``."""

    _op = None

    spec = None      # a tinygrad_cnn.Spec here makes the property tests cover the Function

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        name = f"{cls.__module__}.{cls.__qualname__}".replace("<locals>.", "")

        def forward(ctx, *arrays, layout=None):
            return _function_forward(ctx, *arrays, function=cls, layout=layout)
        forward.__doc__ = cls.forward.__doc__
        cls._op = engine.defop(name, spec=cls.spec, replace=True)(forward)
        cls._op.defvjp(_function_vjp)
        _OWNERS[name] = cls

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("Function subclasses must define a static forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("Function subclasses must define a static backward(ctx, grad)")

    @classmethod
    def apply(cls, *args):
        if cls._op is None:
            raise TypeError("apply: call it on a subclass of Function")
        layout = tuple(("tensor", None) if isinstance(a, Tensor) else ("constant", a) for a in args)
        tensors = [a for a in args if isinstance(a, Tensor)]
        return engine.apply(cls._op, *tensors, layout=layout)


def Variable(data, requires_grad=False, volatile=False):
    """The old ``autograd.Variable``: today just a Tensor."""
    data = data if isinstance(data, Tensor) else Tensor(data)
    if requires_grad:
        data.requires_grad_(True)
    return data


# helpers the library shares (not PyTorch names)


def zero_grad(tensors, set_to_none: bool = True) -> None:
    """Forget the gradients of ``tensors``: ``grad = None``, or fresh zeros
    (a new array: the old one may be shared with another gradient)."""
    for t in tensors:
        t.grad = None if set_to_none or t.grad is None else Tensor(np.zeros_like(t.data))


def tensors_in(value):
    """The Tensors in a value: itself, or those in a (nested) list, tuple or dict."""
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from tensors_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from tensors_in(item)
