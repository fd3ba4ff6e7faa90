"""``Module`` and ``Parameter``: parameters and buffers registered by
attribute assignment, ``model(x)`` calling ``forward``, state dicts with
PyTorch's keys, and the containers ``Sequential``, ``ModuleList`` and
``ModuleDict``."""
from __future__ import annotations

import contextlib
import operator
from collections import OrderedDict, namedtuple
from collections.abc import Mapping
from typing import Iterator

import numpy as np

from ..autograd import zero_grad
from ..errors import ShapeError
from ..tensor import Tensor, dtype

__all__ = ["Parameter", "Module", "Sequential", "StateDictError", "RemovableHandle"]


class RemovableHandle:
    """What ``register_forward_hook`` and ``register_forward_pre_hook`` return:
    ``handle.remove()`` unregisters the hook (PyTorch's
    ``torch.utils.hooks.RemovableHandle``); also a context manager that
    removes the hook when the block ends."""

    _next_id = 0

    def __init__(self, table):
        self._table = table
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._table.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


class Parameter(Tensor):
    """A Tensor that a Module registers as trainable (requires_grad=True)."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True):
        super().__init__(data)
        if self.data.dtype.kind == "f":
            self.requires_grad_(requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys the model has that the state
    dict lacks, and the keys the state dict has that the model lacks."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class StateDictError(RuntimeError, ValueError):
    """A state dict that does not fit the model (PyTorch raises RuntimeError;
    it is also a ValueError, which is what tinygrad_cnn raised before)."""


_CPU_ONLY = "tinygrad_cnn runs on the CPU"
_OTHER_DEVICES = ("cuda", "mps", "xpu", "xla", "meta", "hip", "vulkan", "ipu", "hpu", "mtia", "privateuseone")


def _device_name(owner: str, device) -> str:
    """'cpu' for anything naming the CPU; RuntimeError for other devices."""
    name = str(getattr(device, "type", device)).lower()
    if name == "cpu" or name.startswith("cpu:"):
        return "cpu"
    raise RuntimeError(f"{owner}: device {str(device)!r} is not available: {_CPU_ONLY}")


def _is_device(value) -> bool:
    if hasattr(value, "type") and not isinstance(value, (np.dtype, type, dtype)):
        return True
    return isinstance(value, str) and value.lower().split(":")[0] in ("cpu",) + _OTHER_DEVICES


def _parse_to(owner: str, args, kwargs):
    """(dtype or None) from PyTorch's ``to(device)``, ``to(dtype)``,
    ``to(device, dtype)``, ``to(tensor)`` and ``device=``/``dtype=`` keywords;
    raises for devices other than the CPU."""
    kwargs = dict(kwargs)
    kwargs.pop("non_blocking", None)
    kwargs.pop("copy", None)
    device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    if kwargs:
        raise TypeError(f"{owner}: unexpected keyword arguments {sorted(kwargs)}")
    for arg in args:
        if isinstance(arg, Tensor):
            dtype = arg.dtype
        elif isinstance(arg, bool):      # PyTorch's positional non_blocking
            continue
        elif _is_device(arg):
            device = arg
        else:
            dtype = arg
    if device is not None:
        _device_name(owner, device)
    if dtype is None:
        return None
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{owner}: expected a device or a dtype, got {dtype!r}") from None
    if dtype.kind not in "fc":
        raise TypeError(f"{owner}: only floating point dtypes are accepted, got {dtype}")
    return dtype


class Module:
    """Base class: assign Parameters and Modules as attributes; define ``forward``.

    Parameters, submodules and buffers (``register_buffer``: state that is not
    trained, e.g. a loss's class weights) are found by name, as in PyTorch.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        params, modules, buffers = self._parameters, self._modules, self._buffers
        # as in PyTorch: a name keeps its place when re-assigned (state_dict order)
        if isinstance(value, Parameter):
            table = params
        elif isinstance(value, Module):
            table = modules
        elif name in params:
            if value is not None:
                raise TypeError(f"{type(self).__name__}: cannot assign a {type(value).__name__} as parameter "
                                f"'{name}' (a Parameter or None expected)")
            table = params
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"{type(self).__name__}: cannot assign a {type(value).__name__} as buffer "
                                f"'{name}' (a Tensor or None expected)")
            table = buffers
        else:
            table = None
        for other in (params, modules, buffers):
            if other is not table:
                other.pop(name, None)
        if table is None:
            object.__setattr__(self, name, value)
        else:
            self.__dict__.pop(name, None)
            table[name] = value

    def __getattr__(self, name):
        for store in ("_parameters", "_modules", "_buffers"):
            table = self.__dict__.get(store)
            if table is not None and name in table:
                return table[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._modules, self.__dict__.get("_buffers", {})):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Keep ``tensor`` (a Tensor or None) as state that is not a parameter:
        it is in ``state_dict()`` (unless ``persistent=False``) and follows
        ``to()``/``float()``/``double()``."""
        if "_buffers" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before register_buffer")
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"register_buffer: name must be a non-empty string without '.', got {name!r}")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: '{name}' must be a Tensor or None, got {type(tensor).__name__}")
        if name in self._parameters or name in self._modules:
            raise KeyError(f"register_buffer: '{name}' is already a parameter or submodule")
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def _check_new_name(self, owner: str, name) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{owner}: name must be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{owner}: name must be non-empty and without '.', got {name!r}")

    def add_module(self, name: str, module) -> None:
        """Register ``module`` (a Module or None) as the submodule ``name``,
        as attribute assignment does, for names that are not identifiers."""
        self._check_new_name("add_module", name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module subclass")
        if name in self.__dict__ and name not in self._modules:
            raise KeyError(f"add_module: attribute '{name}' already exists")
        self._parameters.pop(name, None)
        self._buffers.pop(name, None)
        self._modules[name] = module

    register_module = add_module

    def register_parameter(self, name: str, param) -> None:
        """Register ``param`` (a Parameter, or None for an absent one) as ``name``."""
        self._check_new_name("register_parameter", name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: cannot assign a {type(param).__name__} as parameter "
                            f"'{name}' (a Parameter or None expected)")
        if name in self._modules or name in self._buffers or (name in self.__dict__ and name not in self._parameters):
            raise KeyError(f"register_parameter: attribute '{name}' already exists")
        self._parameters[name] = param

    def get_submodule(self, target: str) -> "Module":
        """The submodule at a dotted path such as ``'features.0'`` ('' is self)."""
        module = self
        for part in target.split(".") if target else []:
            if part not in module._modules:
                raise AttributeError(f"{module._get_name()} has no attribute `{part}`")
            module = module._modules[part]
        return module

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    # forward hooks: created on first registration, so a module without hooks
    # pays two attribute reads per call and nothing else
    _forward_pre_hooks = None
    _forward_hooks = None

    def __call__(self, *args, **kwargs):
        if not (self._forward_pre_hooks or self._forward_hooks):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args, kwargs):
        """``forward`` between the pre-hooks and the hooks (PyTorch's order:
        pre-hooks may replace the arguments, hooks may replace the output)."""
        for hook, with_kwargs, _ in list((self._forward_pre_hooks or {}).values()):
            if with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(f"forward pre-hook registered with with_kwargs=True must return "
                                           f"None or a tuple (args, kwargs), got {result!r}")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        hooks = list((self._forward_hooks or {}).values())
        try:
            output = self.forward(*args, **kwargs)
        except BaseException:
            for hook, with_kwargs, always_call in hooks:
                if always_call:
                    try:
                        hook(self, args, kwargs, None) if with_kwargs else hook(self, args, None)
                    except Exception:       # the forward's error is the one to report
                        pass
            raise
        for hook, with_kwargs, _ in hooks:
            result = hook(self, args, kwargs, output) if with_kwargs else hook(self, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_pre_hook(self, hook, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> "RemovableHandle":
        """Call ``hook(module, args)`` before every ``forward``; ``args`` is the
        tuple of positional arguments (keyword arguments go to ``forward``
        only). A returned value replaces the arguments (a single value is
        wrapped in a tuple). With ``with_kwargs=True`` the hook is
        ``hook(module, args, kwargs)`` and may return ``(args, kwargs)``.
        ``prepend=True`` runs it before the hooks already registered.
        Returns a handle whose ``remove()`` unregisters it."""
        return self._add_hook("_forward_pre_hooks", hook, prepend, (with_kwargs, False))

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> "RemovableHandle":
        """Call ``hook(module, args, output)`` after every ``forward``; a
        returned value replaces the output. ``args`` are the positional
        arguments ``forward`` received (after any pre-hook replaced them).
        With ``with_kwargs=True`` the hook is ``hook(module, args, kwargs,
        output)``; ``always_call=True`` also calls it (with output None) when
        ``forward`` raises. Returns a handle whose ``remove()`` unregisters it."""
        return self._add_hook("_forward_hooks", hook, prepend, (with_kwargs, always_call))

    def _add_hook(self, table_name, hook, prepend, flags):
        if not callable(hook):
            raise TypeError(f"{type(self).__name__}.register_{table_name[1:-1]}: hook must be callable, "
                            f"got {type(hook).__name__}")
        table = self.__dict__.get(table_name)
        if table is None:
            table = OrderedDict()
            object.__setattr__(self, table_name, table)
        handle = RemovableHandle(table)
        table[handle.id] = (hook,) + flags
        if prepend:
            table.move_to_end(handle.id, last=False)
        return handle

    # --- traversal -----------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        return iter(self._modules.items())

    def children(self) -> Iterator["Module"]:
        return iter(self._modules.values())

    def named_modules(self, prefix: str = ""):
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs, e.g. ``('0.weight', ...)``; shared parameters once."""
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, param in module._parameters.items():
                if param is not None and id(param) not in seen:
                    seen.add(id(param))
                    yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, buffer in module._buffers.items():
                if buffer is not None and id(buffer) not in seen:
                    seen.add(id(buffer))
                    yield (f"{module_name}.{name}" if module_name else name), buffer

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the parameters' gradients: ``grad = None`` (default) or zeros."""
        zero_grad(self.parameters(), set_to_none)

    def train(self, mode: bool = True) -> "Module":
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def apply(self, fn) -> "Module":
        """Call ``fn`` on every submodule (children first), then on self."""
        for child in self._modules.values():
            child.apply(fn)
        fn(self)
        return self

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.data.size for p in self.parameters() if p.requires_grad or not trainable_only)

    # --- device and dtype -----------------------------------------------------------
    def to(self, *args, **kwargs) -> "Module":
        """PyTorch's ``to(device)``, ``to(dtype)``, ``to(device, dtype)``,
        ``to(tensor)``: returns self. The device must be the CPU ('cpu');
        others raise RuntimeError. A dtype converts the floating point
        parameters (and their gradients) and buffers in place: the same
        Parameter objects, so optimizers built on them keep working."""
        dtype = _parse_to(f"{type(self).__name__}.to", args, kwargs)
        if dtype is not None:
            self._convert(dtype)
        return self

    def _convert(self, dtype) -> None:
        for module in self.modules():
            for table in (module._parameters, module._buffers):
                for tensor in table.values():
                    if tensor is None or tensor.dtype.kind not in "fc":
                        continue
                    tensor.data = tensor.data.astype(dtype, copy=False)
                    if tensor.grad is not None:
                        tensor.grad = Tensor(tensor.grad.data.astype(dtype, copy=False))

    def cpu(self) -> "Module":
        return self

    def cuda(self, device=None) -> "Module":
        raise RuntimeError(f"{type(self).__name__}.cuda(): {_CPU_ONLY}")

    def float(self) -> "Module":
        """Floating point parameters and buffers to float32; returns self."""
        return self.to(np.float32)

    def double(self) -> "Module":
        """Floating point parameters and buffers to float64; returns self."""
        return self.to(np.float64)

    def half(self) -> "Module":
        """Floating point parameters and buffers to float16; returns self."""
        return self.to(np.float16)

    # --- state ------------------------------------------------------------------------
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """An OrderedDict: dotted name -> Tensor, for every parameter and
        persistent buffer (PyTorch's names and layouts).

        The Tensors are detached but share memory with the model, as in
        PyTorch: they change when the model trains (copy them, e.g.
        ``{k: v.numpy().copy() ...}``, to keep a snapshot). ``keep_vars=True``
        gives the Parameters themselves. A parameter shared by two modules
        appears under both names."""
        if destination is None:
            destination = OrderedDict()
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = buffer if keep_vars else buffer.detach()
        for name, child in self._modules.items():
            child.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def _state_slots(self, prefix: str = ""):
        """(key, Tensor) for everything state_dict holds, shared ones under each name."""
        for name, param in self._parameters.items():
            if param is not None:
                yield prefix + name, param
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers:
                yield prefix + name, buffer
        for name, child in self._modules.items():
            yield from child._state_slots(prefix + name + ".")

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy values (Tensors, numpy arrays or nested lists) into the
        parameters and buffers, in place and cast to their dtypes.

        Everything is checked before anything is written, so a failed load
        leaves the model as it was. ``strict=True`` (the default) refuses
        missing and unexpected keys; a shape mismatch is refused either way.
        Raises StateDictError (a RuntimeError, as PyTorch's, and a
        ValueError). Returns the named tuple ``(missing_keys, unexpected_keys)``.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a dict of name -> Tensor, got {type(state_dict).__name__}")
        own = list(self._state_slots())
        own_keys = {key for key, _ in own}
        given = {}
        problems = []
        for key, value in state_dict.items():
            try:
                given[key] = np.asarray(value.data if isinstance(value, Tensor) else value)
            except (TypeError, ValueError) as err:
                problems.append(f'"{key}": cannot be read as an array ({err})')
        missing = [key for key, _ in own if key not in given]
        unexpected = [key for key in given if key not in own_keys]
        if strict and missing:
            problems.append("Missing key(s) in state_dict: " + ", ".join(f'"{key}"' for key in missing) + ".")
        if strict and unexpected:
            problems.append("Unexpected key(s) in state_dict: "
                            + ", ".join(f'"{key}"' for key in unexpected) + ".")
        for key, tensor in own:
            if key in given and given[key].shape != tensor.shape:
                problems.append(f"size mismatch for {key}: copying a param with shape {tuple(given[key].shape)} "
                                f"from checkpoint, the shape in current model is {tuple(tensor.shape)}.")
            elif key in given and given[key].dtype.kind not in "biuf":
                problems.append(f"{key}: checkpoint has dtype {given[key].dtype}, expected numbers")
        if problems:
            raise StateDictError(f"Error(s) in loading state_dict for {type(self).__name__} "
                                 "(model unchanged):\n\t" + "\n\t".join(problems))
        for key, tensor in own:
            if key not in given:
                continue
            if assign or not tensor.data.flags.writeable:
                tensor.data = given[key].astype(tensor.dtype, copy=True)
            elif tensor.data is not given[key]:
                # in place, as PyTorch's copy_: views from state_dict() and
                # optimizers holding the parameter see the new values
                np.copyto(tensor.data, given[key], casting="unsafe")
        return _IncompatibleKeys(missing, unexpected)

    # --- display ----------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self):
        # PyTorch's layout: one-line extra_repr inline; else one item a line, indented
        extra = self.extra_repr().split("\n") if self.extra_repr() else []
        children = [f"({name}): " + repr(child).replace("\n", "\n  ") for name, child in self._modules.items()]
        if len(extra) == 1 and not children:
            return f"{self._get_name()}({extra[0]})"
        lines = extra + children
        if not lines:
            return f"{self._get_name()}()"
        return f"{self._get_name()}(\n  " + "\n  ".join(lines) + "\n)"


class _ModuleSequence(Module):
    """What Sequential and ModuleList share: modules in order, addressed by
    position (negative counts from the end), with PyTorch's list methods.
    As in PyTorch, deleting or inserting renumbers the keys 0..len-1."""

    def _key(self, index) -> str:
        keys = list(self._modules)
        index = operator.index(index)
        if not -len(keys) <= index < len(keys):
            raise IndexError(f"{self._get_name()}: index {index} is out of range for "
                             f"{len(keys)} modules")
        return keys[index]

    def __setitem__(self, index, module) -> None:
        key = self._key(index)
        if not isinstance(module, Module):
            raise TypeError(f"{self._get_name()}: cannot assign '{type(module).__name__}' as child "
                            f"module '{key}' (a Module expected)")
        self._modules[key] = module

    def __delitem__(self, index) -> None:
        keys = list(self._modules)
        for key in keys[index] if isinstance(index, slice) else [self._key(index)]:
            del self._modules[key]
        self._renumber(list(self._modules.values()))

    def _renumber(self, modules) -> None:
        self._modules.clear()
        for position, module in enumerate(modules):
            self.add_module(str(position), module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules):
        return self.extend(modules)

    def append(self, module):
        """Add ``module`` at the end (key ``str(len(self))``)."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        """Append every module of an iterable (a list, a Sequential, a ModuleList)."""
        if isinstance(modules, Module) and not isinstance(modules, _ModuleSequence):
            raise TypeError(f"{self._get_name()}.extend: '{type(modules).__name__}' object is not "
                            "iterable (give a list of modules)")
        for module in list(modules):
            self.append(module)
        return self

    def insert(self, index: int, module):
        """Put ``module`` before position ``index`` (``len(self)`` appends)."""
        if not isinstance(module, Module):
            raise TypeError(f"{self._get_name()}.insert: expected a Module, got {type(module).__name__}")
        size = len(self)
        index = operator.index(index)
        if not -size <= index <= size:
            raise IndexError(f"{self._get_name()}.insert: index {index} is out of range for "
                             f"{size} modules")
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._renumber(modules)
        return self

    def pop(self, index=-1):
        """Remove and return the module at ``index``."""
        module = self[index]
        del self[index]
        return module


class Sequential(_ModuleSequence):
    """Modules applied in order: ``Sequential(m0, m1, ...)`` (keys '0', '1',
    ...) or ``Sequential(OrderedDict(name=module, ...))``. Indexing (negative,
    slices to a new Sequential keeping the keys), assignment
    (``model[4] = nn.Linear(512, 10)``), ``del``, append, extend, insert, pop,
    ``+``, ``+=`` and ``*`` behave as PyTorch's."""

    def __init__(self, *modules: Module):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
            return
        for index, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: argument {index} is a {type(module).__name__}, not a Module")
            setattr(self, str(index), module)

    def forward(self, x):
        for name, module in self._modules.items():
            try:
                x = module(x)
            except ValueError as err:
                shape = getattr(x, "shape", None)
                kind = ShapeError if isinstance(err, ShapeError) else ValueError   # keeps PyTorch's class
                raise kind(f"layer {name} ({module!r}) got input of shape {shape}: {err}") from err
        return x

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        return self._modules[self._key(index)]

    def __add__(self, other) -> "Sequential":
        if not isinstance(other, Sequential):
            raise ValueError(f"Sequential: + joins two Sequentials, got {type(other).__name__}")
        return Sequential(*self, *other)

    def __mul__(self, times) -> "Sequential":
        if not isinstance(times, int) or isinstance(times, bool):
            raise TypeError(f"Sequential: can only be multiplied by an int, got {type(times).__name__}")
        if times <= 0:
            raise ValueError(f"Sequential: non-positive multiplication factor {times}")
        return Sequential(*(list(self) * times))

    __rmul__ = __mul__

    def __imul__(self, times) -> "Sequential":
        repeated = self * times
        self._renumber(list(repeated))
        return self


__all__ += ["ModuleList", "ModuleDict"]


def _indent_tail(text: str, spaces: int = 2) -> str:
    """Indent every line but the first (nested reprs)."""
    return text.replace("\n", "\n" + " " * spaces)


class ModuleList(_ModuleSequence):
    """A list of Modules whose parameters the owner sees (keys '0', '1', ...).
    Indexing (negative, slices), len, iteration, append, extend, insert, pop,
    ``+=`` and ``+`` behave as PyTorch's. It has no forward: iterate over it."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(list(self._modules.values())[index])
        return self._modules[self._key(index)]

    def __add__(self, other) -> "ModuleList":
        return ModuleList(list(self) + list(other))

    def insert(self, index: int, module) -> None:
        super().insert(index, module)        # PyTorch's ModuleList.insert returns None

    def __repr__(self):
        # PyTorch's layout: runs of equal reprs are shown once, as "(2-4): 3 x ..."
        reprs = [repr(module) for module in self]
        if not reprs:
            return self._get_name() + "()"
        lines, start = [], 0
        for end in range(1, len(reprs) + 1):
            if end == len(reprs) or reprs[end] != reprs[start]:
                if end - 1 == start:
                    lines.append(_indent_tail(f"({start}): {reprs[start]}"))
                else:
                    lines.append(_indent_tail(f"({start}-{end - 1}): {end - start} x {reprs[start]}"))
                start = end
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """An ordered dict of name -> Module whose parameters the owner sees (keys
    'name.weight', ...): ``[]``, ``in``, len, iteration over the names, keys,
    values, items, update, pop and clear, as PyTorch's."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str):
        return self._modules[key]

    def __setitem__(self, key: str, module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def clear(self) -> None:
        self._modules.clear()

    def pop(self, key: str):
        module = self._modules[key]
        del self[key]
        return module

    def update(self, modules) -> None:
        """Add (name, module) pairs from a mapping or an iterable of pairs, in order."""
        if isinstance(modules, (Mapping, ModuleDict)):
            pairs = modules.items()
        else:
            pairs = []
            for index, pair in enumerate(modules):
                if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                    raise ValueError(f"ModuleDict.update: element {index} should be a (name, module) pair, "
                                     f"got {pair!r}")
                pairs.append(pair)
        for key, module in pairs:
            self[key] = module


@contextlib.contextmanager
def training_mode(module: Module, mode: bool):
    """``module.train(mode)`` for the length of a ``with`` block; afterwards
    every submodule gets its own flag back (a model partly in eval stays so)."""
    flags = [(m, m.training) for m in module.modules()]
    try:
        module.train(mode)
        yield module
    finally:
        for m, training in flags:
            object.__setattr__(m, "training", training)      # as Module.train sets it
