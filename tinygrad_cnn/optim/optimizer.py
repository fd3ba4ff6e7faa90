"""Optimizers with PyTorch's update rules: SGD, Adam, AdamW, RMSprop and Adagrad.

    opt = optim.Adam(model.parameters(), lr=1e-3)
    loss.backward(); opt.step(); opt.zero_grad()

``step()`` rewrites each ``param.data`` in place with a few vectorised numpy
ops per parameter; it records no graph. Optimizer state is PyTorch's: per
parameter a dict of Tensors (momentum buffers, moment estimates in the
parameter's dtype, so float32 training stays float32; ``step`` a float32 0-d
Tensor), updated in place. ``param_groups`` hold PyTorch's keys in PyTorch's
order with its defaults (``maximize``, ``foreach``, ``differentiable``,
``fused``, ...), so printing a group or ``state_dict()`` shows what PyTorch
shows. A parameter whose ``grad`` is None is skipped.
Each update bumps the parameter's version counter, so a backward through a
graph recorded before the step raises (as in PyTorch) instead of using the
changed values.

``state_dict()`` holds only Tensors, numbers, strings, None, tuples and lists,
keyed by parameter index, so ``tinygrad_cnn.save`` writes it without pickle,
and ``load_state_dict`` resumes training exactly (it also takes numpy arrays
and integer step counts, as older checkpoints hold).
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping

import numpy as np

from ..autograd import zero_grad
from ..tensor import Tensor, enable_grad

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta"]


class Optimizer:
    """Base class: parameter groups, ``zero_grad``, ``step``, state dicts.

    ``params`` is an iterable of Tensors (usually ``model.parameters()``) or
    of dicts, each ``{'params': [...], 'lr': ..., ...}`` with per-group
    hyperparameters; keys a group leaves out take the constructor's values.
    ``param_groups`` is that list of dicts: ``opt.param_groups[0]['lr'] = 1e-4``
    changes the learning rate for the following steps. ``state`` maps each
    parameter to its dict of buffers.

    Subclasses define ``_check_group`` (hyperparameter validation) and
    ``_update`` (one parameter's in-place step, on the numpy arrays of its
    state Tensors) and list their per-parameter state in ``_array_state``
    (Tensors shaped like the parameter) and ``_count_state`` (step counts,
    float32 0-d Tensors as PyTorch's), or override ``_state_names`` when the
    buffers depend on the group's options.
    """

    _array_state: tuple[str, ...] = ()
    _count_state: tuple[str, ...] = ()
    kernel = None     # a fast whole-group update, set by tinygrad_cnn.kernels (see step)
    # PyTorch's switches: a saved group that lacks one (an older checkpoint)
    # takes the default; every other hyperparameter must be in a loaded group.
    _switches = ("amsgrad", "maximize", "foreach", "capturable", "differentiable", "fused",
                 "decoupled_weight_decay")

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self._check_switches(self.defaults)
        self._check_group(self.defaults)
        self.param_groups: list[dict] = []
        self.state: dict[Tensor, dict] = {}
        # Scratch arrays shared by all parameters (sized to the largest), so
        # a step allocates nothing once warm.
        self._workspace: dict[tuple, np.ndarray] = {}
        for group in self._as_groups(params):
            self.add_param_group(group)

    # --- parameter groups -------------------------------------------------------
    @property
    def _name(self) -> str:
        return type(self).__name__

    def _as_groups(self, params) -> list[dict]:
        if isinstance(params, (Tensor, Mapping)) or not isinstance(params, Iterable):
            raise TypeError(f"{self._name}: params must be an iterable of Tensors or of dicts, "
                            f"got {type(params).__name__}")
        items = list(params)
        if not items:
            raise ValueError(f"{self._name}: got an empty parameter list")
        if all(isinstance(item, Mapping) for item in items):
            return [dict(item) for item in items]
        if any(isinstance(item, Mapping) for item in items):
            raise TypeError(f"{self._name}: params mixes Tensors and group dicts")
        return [{"params": items}]

    def add_param_group(self, group: Mapping) -> None:
        """Append a group: ``{'params': Tensors, **hyperparameters}``."""
        group = dict(group)
        if "params" not in group:
            raise ValueError(f"{self._name}: a parameter group needs a 'params' entry")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        already = {id(p) for other in self.param_groups for p in other["params"]}
        seen = set()
        for index, param in enumerate(params):
            if not isinstance(param, Tensor):
                raise TypeError(f"{self._name}: parameter {index} of group {len(self.param_groups)} "
                                f"is a {type(param).__name__}, not a Tensor")
            if not np.issubdtype(param.dtype, np.floating):
                raise TypeError(f"{self._name}: can only optimize floating point tensors, "
                                f"parameter {index} has dtype {param.dtype}")
            if id(param) in already or id(param) in seen:
                raise ValueError(f"{self._name}: parameter {index} of group {len(self.param_groups)} "
                                 "appears more than once")
            seen.add(id(param))
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_group(group)
        self.param_groups.append(group)

    def _parameters(self) -> list[Tensor]:
        return [param for group in self.param_groups for param in group["params"]]

    # --- the step ----------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``grad = None`` (default) or zeros."""
        zero_grad(self._parameters(), set_to_none)

    def step(self, closure=None):
        """Update every parameter that has a gradient, in place.

        ``closure`` (optional) re-evaluates the model and returns the loss;
        it runs with grad mode on and its result is returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        checked = self.__dict__.setdefault("_checked_groups", {})
        for group_index, group in enumerate(self.param_groups):
            # Checked whenever a group's options differ from the last step's:
            # users (and schedulers) edit param_groups between steps.
            options = [(key, value) for key, value in group.items() if key != "params"]
            if checked.get(group_index) != options:
                self._check_switches(group)
                self._check_group(group)
                checked[group_index] = options
            # the one hook for a fast update (tinygrad_cnn.kernels sets it): a whole group at once,
            # or False to leave the group to the per-parameter update below
            if self.kernel is not None and self.kernel.step(self, group_index, group):
                continue
            for index, param in enumerate(group["params"]):
                if param.grad is None:
                    continue
                grad = param.grad.data if isinstance(param.grad, Tensor) else np.asarray(param.grad)
                if grad.shape != param.data.shape:
                    raise ValueError(f"{self._name}: parameter {index} of group {group_index} has shape "
                                     f"{tuple(param.data.shape)} but its gradient has shape {tuple(grad.shape)}")
                if group["maximize"]:
                    grad = np.negative(grad, out=self._scratch(param.data, 2))
                state = self.state.setdefault(param, {})
                self._update(param.data, grad, state, group)
                # an in-place change: a graph that saved this parameter is now stale
                param._version += 1
        return loss

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        raise NotImplementedError

    def _check_group(self, group: Mapping) -> None:
        raise NotImplementedError

    def _check_switches(self, group: Mapping) -> None:
        """PyTorch's switches: True/False (None too for foreach and fused).
        They pick an implementation in PyTorch; ours has one numpy
        implementation, so only fused=True and differentiable=True, which
        would promise something it does not do, are refused."""
        for name in self._switches:
            if name not in group:
                continue
            value = group[name]
            allowed = (True, False, None) if name in ("foreach", "fused") else (True, False)
            if not any(value is choice or (choice is not None and isinstance(value, np.bool_) and value == choice)
                       for choice in allowed):
                raise ValueError(f"{self._name}: {name} must be "
                                 f"{' or '.join(map(str, allowed))}, got {value!r}")
        if group.get("fused"):
            raise NotImplementedError(f"{self._name}: fused=True is not implemented (tinygrad_cnn has one "
                                      "numpy implementation; leave fused=None)")
        if group.get("differentiable"):
            raise NotImplementedError(f"{self._name}: differentiable=True is not implemented (a step records "
                                      "no graph; leave differentiable=False)")

    def _new_state(self, data: np.ndarray, group: Mapping, fill: float = 0.0) -> dict:
        """A parameter's fresh state: step counts at 0, buffers filled with ``fill``."""
        array_names, count_names = self._state_names(group)
        state = {name: _count(0) for name in count_names}
        state.update((name, Tensor(np.full(data.shape, fill, dtype=data.dtype))) for name in array_names)
        return state

    def _state_names(self, group: Mapping) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(array buffers, integer counters) a parameter of ``group`` keeps."""
        return self._array_state, self._count_state

    def _l2_penalized(self, data: np.ndarray, grad: np.ndarray, weight_decay: float) -> np.ndarray:
        """``grad + weight_decay * data`` in a work array (PyTorch's coupled weight decay)."""
        decayed = np.multiply(data, weight_decay, out=self._scratch(data, 0))
        decayed += grad
        return decayed

    def _scratch(self, like: np.ndarray, slot: int = 0) -> np.ndarray:
        """A work array shaped like ``like``, a view of a reusable buffer."""
        key = (slot, like.dtype)
        buffer = self._workspace.get(key)
        if buffer is None or buffer.size < like.size:
            buffer = self._workspace[key] = np.empty(like.size, dtype=like.dtype)
        return buffer[:like.size].reshape(like.shape)

    # --- state -------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{'state': {index: {name: array or int}}, 'param_groups': [...]}``.

        Parameters are numbered in group order; each group lists its
        indices under ``'params'`` (last, as PyTorch's). The state's Tensors
        are copies.
        """
        state = {}
        for index, param in enumerate(self._parameters()):
            entry = self.state.get(param)
            if entry:
                state[index] = {key: Tensor(value.data.copy()) if isinstance(value, Tensor) else value
                                for key, value in entry.items()}
        groups, start = [], 0
        for group in self.param_groups:
            saved = {key: value for key, value in group.items() if key != "params"}
            saved["params"] = list(range(start, start + len(group["params"])))
            start += len(group["params"])
            groups.append(saved)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping) -> None:
        """Restore buffers and hyperparameters from ``state_dict()``'s output
        (or what ``tinygrad_cnn.load`` returned for it).

        Everything is checked first (group sizes, hyperparameters, buffer
        names and shapes), so on any error the optimizer is left as it was.
        Buffers are copied and cast to each parameter's dtype.
        """
        def fail(message):
            raise ValueError(f"{self._name}.load_state_dict failed (optimizer unchanged): {message}")

        if not isinstance(state_dict, Mapping) or set(state_dict) != {"state", "param_groups"}:
            fail("expected a dict with exactly the keys 'state' and 'param_groups'")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            fail(f"it has {len(saved_groups)} parameter groups, this optimizer has {len(self.param_groups)}")

        by_index: dict[int, tuple[Tensor, dict]] = {}
        new_groups = []
        for number, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            # extra keys (a scheduler's 'initial_lr', ...) are kept, as PyTorch does
            needed = (set(self.defaults) - set(self._switches)) | {"params"}
            if not isinstance(saved, Mapping) or not needed <= set(saved):
                keys = sorted(saved) if isinstance(saved, Mapping) else type(saved).__name__
                fail(f"group {number} has keys {keys}, expected {sorted(needed)} "
                     "(state from a different optimizer?)")
            if not isinstance(saved["params"], (list, tuple, np.ndarray)):
                fail(f"group {number}: 'params' must be a list of indices, got {saved['params']!r}")
            indices = [_as_index(index) for index in saved["params"]]
            if None in indices or len(indices) != len(group["params"]):
                fail(f"group {number} lists {len(indices)} parameters ({saved['params']!r}), "
                     f"this optimizer's group has {len(group['params'])}")
            new_group = {"params": group["params"]}
            new_group.update((key, _plain(value, like=group.get(key, self.defaults.get(key))))
                             for key, value in saved.items() if key != "params")
            for key in self._switches:
                if key in self.defaults:
                    new_group.setdefault(key, self.defaults[key])
            try:
                self._check_switches(new_group)
                self._check_group(new_group)
            except (TypeError, ValueError) as err:
                fail(f"group {number}: {err}")
            new_groups.append(new_group)
            for index, param in zip(indices, group["params"]):
                if index in by_index:
                    fail(f"parameter index {index} appears twice")
                by_index[index] = (param, new_group)

        new_state = {}
        if not isinstance(state_dict["state"], Mapping):
            fail(f"'state' must be a dict, got {type(state_dict['state']).__name__}")
        for key, entry in state_dict["state"].items():
            index = _as_index(key)
            if index not in by_index:
                fail(f"state for parameter {key!r}, which no group lists")
            param, new_group = by_index[index]
            array_names, count_names = self._state_names(new_group)
            expected = set(array_names) | set(count_names)
            if not isinstance(entry, Mapping) or set(entry) != expected:
                keys = sorted(entry) if isinstance(entry, Mapping) else type(entry).__name__
                fail(f"state for parameter {index} has {keys}, expected {sorted(expected)}")
            restored = {}
            for name in array_names:
                value = entry[name]
                array = np.asarray(value.data if isinstance(value, Tensor) else value)
                if array.dtype.kind not in "fiu":
                    fail(f"state '{name}' of parameter {index} has dtype {array.dtype}, expected numbers")
                if array.shape != param.shape:
                    fail(f"state '{name}' of parameter {index} has shape {tuple(array.shape)}, "
                         f"but the parameter has shape {tuple(param.shape)}")
                restored[name] = Tensor(array.astype(param.dtype, copy=True))
            for name in count_names:
                count = _as_index(entry[name])
                if count is None:
                    fail(f"state '{name}' of parameter {index} must be a non-negative integer, "
                         f"got {entry[name]!r}")
                restored[name] = _count(count)
            # PyTorch's order: counts first, then buffers
            new_state[param] = {name: restored[name] for name in (*count_names, *array_names)}

        # All checked: now commit. Group dicts are updated in place so that
        # references a user holds to them stay live.
        for group, new_group in zip(self.param_groups, new_groups):
            group.clear()
            group.update(new_group)
        self.state = new_state

    # --- display ------------------------------------------------------------------
    def __repr__(self):
        # PyTorch's layout: a blank line between groups, keys sorted
        text = f"{self._name} ("
        for number, group in enumerate(self.param_groups):
            text += f"\nParameter Group {number}\n"
            text += "".join(f"    {key}: {group[key]}\n" for key in sorted(group) if key != "params")
        return text + ")"


# --- helpers --------------------------------------------------------------------------


def _count(value: int) -> Tensor:
    """A step count as PyTorch keeps it: a float32 0-d Tensor."""
    return Tensor(np.array(value, dtype=np.float32))


def _as_index(value):
    """A non-negative int from an int, an integral float/array or a digit
    string (JSON and npz round trips can turn keys into any of these)."""
    if isinstance(value, str):
        return int(value) if value.isdigit() else None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        value = np.asarray(value)
        if value.shape != () or value.dtype.kind not in "iuf":
            return None
        value = value.item()
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value) if value >= 0 else None


def _plain(value, like):
    """Numpy scalars and lists as the Python types the live group uses, so
    that no np.float64 sneaks into float32 arithmetic."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, (np.ndarray, np.generic)) and np.ndim(value) == 0:
        value = value.item()
    if isinstance(like, tuple) and isinstance(value, (list, tuple, np.ndarray)):
        value = tuple(_plain(item, like=None) for item in value)
    return value


def _check_number(owner: str, name: str, value, minimum=None, below=None):
    """A finite real number with ``minimum <= value < below``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value!r}")
    if below is not None and value >= below:
        raise ValueError(f"{owner}: {name} must be < {below}, got {value!r}")


# --- the optimizers ---------------------------------------------------------------------


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, as PyTorch's.

    With ``g = grad + weight_decay * p``:
      momentum buffer ``b``: ``b = g`` on the first step, then
      ``b = momentum * b + (1 - dampening) * g``;
      direction ``d = g + momentum * b`` (nesterov) or ``d = b`` (else),
      or ``d = g`` without momentum;
      ``p -= lr * d``.
    ``maximize=True`` uses ``-grad``. State per parameter (only with
    momentum): ``momentum_buffer``.
    """

    _array_state = ("momentum_buffer",)

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False, fused: bool | None = None):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))

    def _check_group(self, group):
        for name, minimum in (("lr", 0.0), ("momentum", 0.0), ("dampening", None), ("weight_decay", 0.0)):
            _check_number(self._name, name, group[name], minimum)
        if not isinstance(group["nesterov"], (bool, np.bool_)):
            raise ValueError(f"{self._name}: nesterov must be True or False, got {group['nesterov']!r}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{self._name}: nesterov needs momentum > 0 and dampening = 0, got "
                             f"momentum={group['momentum']!r}, dampening={group['dampening']!r}")

    def _update(self, data, grad, state, group):
        lr, momentum = float(group["lr"]), float(group["momentum"])
        dampening, weight_decay = float(group["dampening"]), float(group["weight_decay"])
        direction = grad
        if weight_decay != 0:
            direction = self._l2_penalized(data, grad, weight_decay)
        if momentum != 0:
            if "momentum_buffer" not in state:
                # PyTorch starts the buffer at the undamped gradient.
                state["momentum_buffer"] = Tensor(np.array(direction, dtype=data.dtype, copy=True))
                buffer = state["momentum_buffer"].data
            else:
                buffer = state["momentum_buffer"].data
                buffer *= momentum
                if dampening == 0:
                    buffer += direction
                else:
                    damped = np.multiply(direction, 1.0 - dampening, out=self._scratch(data, 1))
                    buffer += damped
            if group["nesterov"]:
                ahead = np.multiply(buffer, momentum, out=self._scratch(data, 1))
                ahead += direction
                direction = ahead
            else:
                direction = buffer
        step = np.multiply(direction, lr, out=self._scratch(data, 1))
        data -= step


class Adam(Optimizer):
    """Adam (Kingma & Ba), with PyTorch's formula and defaults.

    With ``g = grad + weight_decay * p`` (L2 penalty, as PyTorch's Adam) and
    ``t`` the parameter's own step count:
      ``m = b1 * m + (1 - b1) * g``;  ``v = b2 * v + (1 - b2) * g * g``;
      ``denom = sqrt(v) / sqrt(1 - b2**t) + eps``;
      ``p -= lr / (1 - b1**t) * m / denom``.
    ``amsgrad=True`` divides by the running maximum of ``v`` instead
    (``max_exp_avg_sq``); ``maximize=True`` uses ``-grad``;
    ``decoupled_weight_decay=True`` is AdamW's decay.
    State per parameter: ``step`` (float32 0-d Tensor), ``exp_avg`` (m),
    ``exp_avg_sq`` (v) and, with amsgrad, ``max_exp_avg_sq``.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas) if isinstance(betas, list) else betas,
                                      eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                                      foreach=foreach, capturable=capturable, differentiable=differentiable,
                                      fused=fused, decoupled_weight_decay=decoupled_weight_decay))

    def _state_names(self, group):
        arrays = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())
        return arrays, ("step",)

    def _check_group(self, group):
        _check_number(self._name, "lr", group["lr"], 0.0)
        _check_number(self._name, "eps", group["eps"], 0.0)
        _check_number(self._name, "weight_decay", group["weight_decay"], 0.0)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{self._name}: betas must be a pair (beta1, beta2), got {betas!r}")
        for name, beta in zip(("betas[0]", "betas[1]"), betas):
            _check_number(self._name, name, beta, 0.0, below=1.0)

    def _update(self, data, grad, state, group):
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(beta) for beta in group["betas"])
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                data *= 1.0 - lr * weight_decay
            else:
                grad = self._l2_penalized(data, grad, weight_decay)
        if not state:
            state.update(self._new_state(data, group))
        state["step"].data += 1
        t = float(state["step"].data)
        m, v = state["exp_avg"].data, state["exp_avg_sq"].data
        # the moving averages (Python floats as factors, so float32 stays float32);
        # m += (1 - b1) * (g - m) is PyTorch's lerp form of m = b1 * m + (1 - b1) * g
        m += (1.0 - beta1) * (grad - m)
        v *= beta2
        v += (1.0 - beta2) * grad * grad
        if group["amsgrad"]:
            if "max_exp_avg_sq" not in state:      # amsgrad switched on after some steps
                state["max_exp_avg_sq"] = Tensor(np.zeros(data.shape, dtype=data.dtype))
            v = np.maximum(state["max_exp_avg_sq"].data, v, out=state["max_exp_avg_sq"].data)
        # bias-corrected step: p -= lr / (1 - b1**t) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)
        denom = np.sqrt(v) / math.sqrt(1.0 - beta2 ** t) + eps
        data -= (lr / (1.0 - beta1 ** t)) * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as PyTorch's:
    ``p *= 1 - lr * weight_decay`` first, then the Adam step on the raw
    gradient. Default ``weight_decay=1e-2``; its groups say
    ``decoupled_weight_decay: True``, as PyTorch's."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach, maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused, decoupled_weight_decay=True)


class RMSprop(Optimizer):
    """RMSprop (Hinton), with PyTorch's formula and defaults.

    With ``g = grad + weight_decay * p`` and ``a = alpha``:
      ``v = a * v + (1 - a) * g * g`` (the running mean square);
      centered: ``m = a * m + (1 - a) * g`` and ``denom = sqrt(v - m * m) + eps``,
      else ``denom = sqrt(v) + eps``;
      with momentum: ``b = momentum * b + g / denom`` and ``p -= lr * b``,
      else ``p -= lr * g / denom``.
    ``maximize=True`` uses ``-grad``. State per parameter: ``step`` (float32
    0-d Tensor), ``square_avg`` (v), and ``momentum_buffer`` (b) when
    momentum > 0, ``grad_avg`` (m) when centered.
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False):
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                                      weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable))

    def _check_group(self, group):
        for name in ("lr", "alpha", "eps", "weight_decay", "momentum"):
            _check_number(self._name, name, group[name], 0.0)
        if not isinstance(group["centered"], (bool, np.bool_)):
            raise ValueError(f"{self._name}: centered must be True or False, got {group['centered']!r}")

    def _state_names(self, group):
        arrays = ("square_avg",)
        if group["momentum"] > 0:
            arrays += ("momentum_buffer",)
        if group["centered"]:
            arrays += ("grad_avg",)
        return arrays, ("step",)

    def _update(self, data, grad, state, group):
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        weight_decay, momentum = float(group["weight_decay"]), float(group["momentum"])
        if weight_decay != 0:
            grad = self._l2_penalized(data, grad, weight_decay)
        if not state:
            state.update(self._new_state(data, group))
        state["step"].data += 1
        square_avg, work = state["square_avg"].data, self._scratch(data, 1)

        # Python floats, so float32 arrays stay float32.
        np.multiply(grad, 1.0 - alpha, out=work)
        work *= grad
        square_avg *= alpha
        square_avg += work
        if group["centered"]:
            # m += (1 - a) * (g - m): PyTorch's lerp form
            grad_avg = state["grad_avg"].data
            np.subtract(grad, grad_avg, out=work)
            work *= 1.0 - alpha
            grad_avg += work
            np.multiply(grad_avg, grad_avg, out=work)
            np.subtract(square_avg, work, out=work)
            np.sqrt(work, out=work)
        else:
            np.sqrt(square_avg, out=work)
        work += eps
        np.divide(grad, work, out=work)          # g / denom
        if momentum > 0:
            buffer = state["momentum_buffer"].data
            buffer *= momentum
            buffer += work
            np.multiply(buffer, lr, out=work)
        else:
            work *= lr
        data -= work


class Adadelta(Optimizer):
    """Adadelta (Zeiler), with PyTorch's formula and defaults.

    With ``g = grad + weight_decay * p``:
      ``v = rho * v + (1 - rho) * g * g``;
      ``d = sqrt(u + eps) / sqrt(v + eps) * g``;
      ``u = rho * u + (1 - rho) * d * d``;  ``p -= lr * d``.
    ``maximize=True`` uses ``-grad``. State per parameter: ``step`` (float32
    0-d Tensor), ``square_avg`` (v) and ``acc_delta`` (u).
    """

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *, capturable: bool = False,
                 maximize: bool = False, differentiable: bool = False):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      capturable=capturable, foreach=foreach, differentiable=differentiable))

    def _check_group(self, group):
        for name in ("lr", "eps", "weight_decay"):
            _check_number(self._name, name, group[name], 0.0)
        _check_number(self._name, "rho", group["rho"], 0.0)
        if group["rho"] > 1.0:
            raise ValueError(f"{self._name}: rho must be in [0, 1], got {group['rho']!r}")

    def _state_names(self, group):
        return ("square_avg", "acc_delta"), ("step",)

    def _update(self, data, grad, state, group):
        lr, rho, eps = float(group["lr"]), float(group["rho"]), float(group["eps"])
        weight_decay = float(group["weight_decay"])
        if weight_decay != 0:
            grad = self._l2_penalized(data, grad, weight_decay)
        if not state:
            state.update(self._new_state(data, group))
        state["step"].data += 1
        square_avg, acc_delta = state["square_avg"].data, state["acc_delta"].data
        work, delta = self._scratch(data, 1), self._scratch(data, 3)
        # Python floats, so float32 arrays stay float32.
        np.multiply(grad, 1.0 - rho, out=work)
        work *= grad
        square_avg *= rho
        square_avg += work
        np.add(square_avg, eps, out=work)
        np.sqrt(work, out=work)                       # std
        np.add(acc_delta, eps, out=delta)
        np.sqrt(delta, out=delta)
        delta /= work
        delta *= grad                                 # d
        np.multiply(delta, delta, out=work)
        work *= 1.0 - rho
        acc_delta *= rho
        acc_delta += work
        delta *= lr
        data -= delta


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.), with PyTorch's formula and defaults.

    With ``g = grad + weight_decay * p`` and ``t`` the parameter's step count:
      ``s += g * g`` (``s`` starts at ``initial_accumulator_value``);
      ``p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)``.
    ``maximize=True`` uses ``-grad``. State per parameter: ``step`` (float32
    0-d Tensor), ``sum`` (s), created when the parameter joins, as PyTorch's,
    from its group's ``initial_accumulator_value`` (PyTorch fills every sum
    from the constructor's value, ignoring a group's own).
    """

    _array_state = ("sum",)
    _count_state = ("step",)

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: bool | None = None):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, fused=fused))

    def add_param_group(self, group: Mapping) -> None:
        super().add_param_group(group)
        group = self.param_groups[-1]
        for param in group["params"]:
            self.state[param] = self._new_state(param.data, group, fill=group["initial_accumulator_value"])

    def _check_group(self, group):
        for name in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            _check_number(self._name, name, group[name], 0.0)

    def _update(self, data, grad, state, group):
        lr, lr_decay, eps = float(group["lr"]), float(group["lr_decay"]), float(group["eps"])
        weight_decay = float(group["weight_decay"])
        if weight_decay != 0:
            grad = self._l2_penalized(data, grad, weight_decay)
        if not state:      # after a load_state_dict that had no state for it
            state.update(self._new_state(data, group, fill=group["initial_accumulator_value"]))
        state["step"].data += 1
        total, work = state["sum"].data, self._scratch(data, 1)
        np.multiply(grad, grad, out=work)
        total += work
        np.sqrt(total, out=work)
        work += eps
        np.divide(grad, work, out=work)
        # Python floats, so float32 arrays stay float32
        work *= lr / (1.0 + (float(state["step"].data) - 1) * lr_decay)
        data -= work
