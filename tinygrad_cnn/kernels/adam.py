"""Adam, fast: a small group's moments in two flat buffers and its update in one pass, and
large parameters updated in cache-sized blocks (split across ``get_num_threads()`` threads).

The reference (``tinygrad_cnn.optim.Adam._update``) is the formula, one parameter at a time.
This kernel takes a whole group in the plain case (no weight decay, amsgrad or maximize; every
parameter has a gradient of its own shape and dtype) and returns False otherwise, which leaves
the group to the reference. Rounding differs from the reference by an ulp or so: the bias
correction of the second moment is moved out of the denominator (one pass fewer).

- A group of at most ``flat_limit`` values in all (a small model, where numpy's per-call cost
  is the step) keeps its moments in two flat arrays; each parameter's ``exp_avg`` and
  ``exp_avg_sq`` state Tensors are views of them, so ``state_dict`` and ``load_state_dict``
  see the usual per-parameter state. The buffers are rebuilt whenever the state was replaced.
- Larger parameters are updated ``block`` values at a time, so all passes over a block run in
  the core's cache.
"""
import math

import numpy as np

from . import _threads
from .base import register
from ..optim import Adam
from ..tensor import Tensor

# groups with at most this many values in all are updated as one flat array
_FLAT_LIMIT = 1 << 16
# an update's arrays are processed this many elements at a time
_BLOCK = 1 << 17


def adam_step(opt, group_index, group) -> bool:
    cache = opt.__dict__.setdefault("_flat_cache", {})
    params = group["params"]
    plain = not (group["amsgrad"] or group["maximize"] or group["weight_decay"] != 0)
    grads = _plain_grads(params) if plain else None
    if grads is None:
        cache.pop(group_index, None)      # the reference updates this group: the flat copy goes stale
        return False
    present = [(param, grad) for param, grad in zip(params, grads) if grad is not None]
    if len(present) == len(params) and _flat_step(opt, group_index, group, grads):
        return True
    cache.pop(group_index, None)
    beta1, beta2 = (float(beta) for beta in group["betas"])
    lr, eps = float(group["lr"]), float(group["eps"])
    for param, grad in present:
        state = opt.state.setdefault(param, {})
        if not state:
            state.update(opt._new_state(param.data, group))
        state["step"].data += 1
        step = float(state["step"].data)
        constants = (beta1, beta2, lr / (1.0 - beta1 ** step), math.sqrt(1.0 - beta2 ** step), eps)
        _blocked(_adam_math, [param.data, grad, state["exp_avg"].data, state["exp_avg_sq"].data], constants)
        param._version += 1      # an in-place change: a graph that saved this parameter is now stale
    return True


def _plain_grads(params):
    """Each parameter's gradient array (None where it has none), or None if one does not match
    its parameter's shape and dtype (the reference reports or handles that)."""
    grads = []
    for param in params:
        grad = param.grad
        if grad is not None:
            grad = grad.data if isinstance(grad, Tensor) else np.asarray(grad)
            if grad.dtype != param.data.dtype or grad.shape != param.data.shape:
                return None
        grads.append(grad)
    return grads


def _flat_step(opt, group_index, group, grads) -> bool:
    """The group in one pass over its flat buffers; False if it does not qualify."""
    params = group["params"]
    entry = opt._flat_cache.get(group_index)
    if entry is None or not _flat_entry_current(entry, params, opt.state):
        if not params or sum(param.data.size for param in params) > _FLAT_LIMIT:
            return False
        entry = _flat_moments(opt, group_index, params)
        if entry is None:
            return False
    exp_avg, exp_avg_sq, offsets, steps = entry[:4]
    dtype = exp_avg.dtype
    for param in params:
        if param.data.dtype != dtype:
            return False
    steps += 1                  # every parameter's step count (views of it)
    step = float(steps[0])
    beta1, beta2 = (float(beta) for beta in group["betas"])
    lr, eps = float(group["lr"]), float(group["eps"])
    constants = (beta1, beta2, lr / (1.0 - beta1 ** step), math.sqrt(1.0 - beta2 ** step), eps)
    grad = np.concatenate([g.reshape(-1) for g in grads])
    work = np.empty_like(grad)
    _adam_math(work, None, grad, exp_avg, exp_avg_sq, constants=constants)
    for param, start, stop in zip(params, offsets[:-1], offsets[1:]):
        param.data -= work[start:stop].reshape(param.data.shape)
        param._version += 1
    return True


def _flat_moments(opt, group_index, params):
    """The group's flat-state entry (exp_avg, exp_avg_sq, offsets, steps, params, states, views
    of exp_avg, of exp_avg_sq, of steps): flat arrays whose slices become the parameters'
    state Tensors (their 0-d step counts too, so that one addition counts a step for all),
    filled from the current state. None when the parameters' step counts differ."""
    group = opt.param_groups[group_index]
    states = [opt.state.get(param) or opt._new_state(param.data, group) for param in params]
    if len({float(state["step"].data) for state in states}) != 1:
        return None
    dtype = params[0].data.dtype
    offsets = np.cumsum([0] + [param.data.size for param in params]).tolist()
    exp_avg = np.empty(offsets[-1], dtype=dtype)
    exp_avg_sq = np.empty(offsets[-1], dtype=dtype)
    steps = np.array([np.asarray(state["step"].data) for state in states], dtype=np.float32)
    views_m, views_v, views_s = [], [], []
    for index, (param, state, start, stop) in enumerate(zip(params, states, offsets[:-1], offsets[1:])):
        view_m = exp_avg[start:stop].reshape(param.data.shape)
        view_v = exp_avg_sq[start:stop].reshape(param.data.shape)
        view_s = steps[index:index + 1].reshape(())
        view_m[...] = state["exp_avg"].data
        view_v[...] = state["exp_avg_sq"].data
        state["exp_avg"].data, state["exp_avg_sq"].data, state["step"].data = view_m, view_v, view_s
        opt.state[param] = state
        views_m.append(view_m)
        views_v.append(view_v)
        views_s.append(view_s)
    entry = (exp_avg, exp_avg_sq, offsets, steps, list(params), states, views_m, views_v, views_s)
    opt._flat_cache[group_index] = entry
    return entry


def _flat_entry_current(entry, params, state) -> bool:
    """Whether a flat-state entry still describes ``params`` and their state
    (not after load_state_dict, a changed parameter list, or state replaced
    by hand)."""
    cached_params, states, views_m, views_v, views_s = entry[4:]
    if len(params) != len(cached_params):
        return False
    for param, cached, entry_state, view_m, view_v, view_s in zip(params, cached_params, states, views_m, views_v,
                                                                  views_s):
        if (param is not cached or state.get(param) is not entry_state
                or entry_state.get("exp_avg") is None or entry_state["exp_avg"].data is not view_m
                or entry_state.get("exp_avg_sq") is None or entry_state["exp_avg_sq"].data is not view_v
                or entry_state.get("step") is None or entry_state["step"].data is not view_s):
            return False
    return True


def _adam_math(work, data, grad, exp_avg, exp_avg_sq, *, constants):
    """One Adam update of matching pieces of the arrays, in place; ``work``
    is scratch space of the same size."""
    beta1, beta2, step_size, bias_correction2_sqrt, eps = constants
    # m += (1 - b1) * (g - m): PyTorch's lerp form of the moving average.
    np.subtract(grad, exp_avg, out=work)
    work *= 1.0 - beta1
    exp_avg += work
    # v = b2 * v + (1 - b2) * g * g
    np.multiply(grad, 1.0 - beta2, out=work)
    work *= grad
    exp_avg_sq *= beta2
    exp_avg_sq += work
    # step_size * m / (sqrt(v) / bc2 + eps), with bc2 = sqrt(1 - b2 ** t)
    # moved out of the denominator: one pass fewer
    np.sqrt(exp_avg_sq, out=work)
    work += eps * bias_correction2_sqrt
    np.divide(exp_avg, work, out=work)
    work *= step_size * bias_correction2_sqrt
    if data is not None:
        data -= work


def _blocked(math_fn, arrays, constants):
    """``math_fn(work, *parts, constants=...)`` over matching blocks of
    same-shaped arrays, on all threads when they are large. Arrays whose
    memory orders differ are handled in one piece."""
    if arrays[0].size <= _BLOCK:
        math_fn(np.empty_like(arrays[0]), *arrays, constants=constants)
        return
    views = [_threads.flat(a) for a in arrays] if _threads.same_layout(*arrays) else [None]
    if any(view is None for view in views):
        math_fn(np.empty_like(arrays[0]), *arrays, constants=constants)
        return

    def part(start, stop):
        work = np.empty(_BLOCK, dtype=views[0].dtype)
        for low in range(start, stop, _BLOCK):
            high = min(low + _BLOCK, stop)
            math_fn(work[:high - low], *(view[low:high] for view in views), constants=constants)
    blocks = -(-views[0].size // _BLOCK)
    _threads.run(lambda first, last: part(first * _BLOCK, min(last * _BLOCK, views[0].size)),
                  blocks, views[0].size)


register(Adam, step=adam_step, thresholds={"flat_limit": _FLAT_LIMIT, "block": _BLOCK})
