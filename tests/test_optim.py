"""Tests of tinygrad_cnn.optim (SGD, Adam, AdamW, RMSprop, Adagrad): each update rule against a plain float64
numpy reference (and against torch.optim when torch is installed), skipped
parameters, state_dict round trips, dtype and hyperparameter checks."""
import numpy as np
import pytest

from tinygrad_cnn import Tensor, optim
from tinygrad_cnn.nn import Parameter
from tinygrad_cnn.serialization import load, save

SHAPES = [(4, 3), (3,), (2, 2, 3, 3)]
STEPS = 10


def make_problem(seed=0, steps=STEPS):
    """Float32 starting values and ``steps`` sets of float32 gradients."""
    rng = np.random.default_rng(seed)
    start = [rng.standard_normal(shape, dtype=np.float32) for shape in SHAPES]
    grads = [[rng.standard_normal(shape, dtype=np.float32) for shape in SHAPES] for _ in range(steps)]
    return start, grads


def run(make_optimizer, start, grads):
    """Apply our optimizer to copies of ``start`` with the given gradients."""
    params = [Parameter(array.copy()) for array in start]
    opt = make_optimizer(params)
    for step_grads in grads:
        for param, grad in zip(params, step_grads):
            param.grad = Tensor(grad)
        opt.step()
    return params, opt


# --- plain float64 references, written straight from the formulas ----------------------


def reference_sgd(start, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    params = [array.astype(np.float64) for array in start]
    buffers = [None] * len(params)
    for step_grads in grads:
        for i, grad in enumerate(step_grads):
            g = grad.astype(np.float64) + weight_decay * params[i]
            if momentum:
                if buffers[i] is None:
                    buffers[i] = g.copy()
                else:
                    buffers[i] = momentum * buffers[i] + (1 - dampening) * g
                g = g + momentum * buffers[i] if nesterov else buffers[i]
            params[i] = params[i] - lr * g
    return params


def reference_adam(start, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    beta1, beta2 = betas
    params = [array.astype(np.float64) for array in start]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t, step_grads in enumerate(grads, start=1):
        for i, grad in enumerate(step_grads):
            g = grad.astype(np.float64)
            if decoupled:
                params[i] = params[i] * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * params[i]
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            denom = np.sqrt(v[i]) / np.sqrt(1 - beta2 ** t) + eps
            params[i] = params[i] - lr / (1 - beta1 ** t) * m[i] / denom
    return params


def reference_rmsprop(start, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                      centered=False):
    params = [array.astype(np.float64) for array in start]
    square = [np.zeros_like(p) for p in params]
    mean = [np.zeros_like(p) for p in params]
    buffers = [np.zeros_like(p) for p in params]
    for step_grads in grads:
        for i, grad in enumerate(step_grads):
            g = grad.astype(np.float64) + weight_decay * params[i]
            square[i] = alpha * square[i] + (1 - alpha) * g * g
            if centered:
                mean[i] = alpha * mean[i] + (1 - alpha) * g
                denom = np.sqrt(square[i] - mean[i] ** 2) + eps
            else:
                denom = np.sqrt(square[i]) + eps
            if momentum > 0:
                buffers[i] = momentum * buffers[i] + g / denom
                params[i] = params[i] - lr * buffers[i]
            else:
                params[i] = params[i] - lr * g / denom
    return params


def reference_adagrad(start, grads, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                      eps=1e-10):
    params = [array.astype(np.float64) for array in start]
    sums = [np.full(array.shape, initial_accumulator_value) for array in params]
    for step, step_grads in enumerate(grads, start=1):
        for param, total, grad in zip(params, sums, step_grads):
            grad = grad + weight_decay * param
            total += grad * grad
            param -= lr / (1 + (step - 1) * lr_decay) * grad / (np.sqrt(total) + eps)
    return params


def assert_matches(params, expected):
    for param, want in zip(params, expected):
        assert param.dtype == np.float32
        np.testing.assert_allclose(param.data, want, rtol=1e-5, atol=1e-6)


SGD_CONFIGS = {
    "plain": dict(lr=0.1),
    "momentum": dict(lr=0.05, momentum=0.9),
    "dampening": dict(lr=0.05, momentum=0.9, dampening=0.3),
    "nesterov": dict(lr=0.05, momentum=0.9, nesterov=True),
    "weight_decay": dict(lr=0.1, weight_decay=0.05),
    "all": dict(lr=0.05, momentum=0.8, weight_decay=0.01, nesterov=True),
}
ADAM_CONFIGS = {
    "default": dict(),
    "lr_betas_eps": dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6),
    "weight_decay": dict(lr=0.01, weight_decay=0.1),
}


# every combination of RMSprop's options, with non-default lr, alpha and eps
RMSPROP_CONFIGS = {
    f"momentum{momentum}_wd{weight_decay}_{'centered' if centered else 'plain'}":
        dict(lr=0.01, alpha=0.9, eps=1e-6, momentum=momentum, weight_decay=weight_decay, centered=centered)
    for momentum in (0.0, 0.9) for weight_decay in (0.0, 0.1) for centered in (False, True)
}
RMSPROP_CONFIGS["defaults"] = dict()
ADAGRAD_CONFIGS = {
    "default": dict(),
    "lr_decay": dict(lr=0.1, lr_decay=0.05),
    "weight_decay_accumulator": dict(lr=0.05, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6),
}


@pytest.mark.parametrize("config", SGD_CONFIGS.values(), ids=SGD_CONFIGS.keys())
def test_sgd_matches_reference(config):
    start, grads = make_problem()
    params, _ = run(lambda p: optim.SGD(p, **config), start, grads)
    assert_matches(params, reference_sgd(start, grads, **config))


@pytest.mark.parametrize("config", ADAM_CONFIGS.values(), ids=ADAM_CONFIGS.keys())
def test_adam_matches_reference(config):
    start, grads = make_problem()
    params, opt = run(lambda p: optim.Adam(p, **config), start, grads)
    assert_matches(params, reference_adam(start, grads, **config))
    assert all(opt.state[p]["step"] == STEPS for p in params)


@pytest.mark.parametrize("config", RMSPROP_CONFIGS.values(), ids=RMSPROP_CONFIGS.keys())
def test_rmsprop_matches_reference(config):
    start, grads = make_problem()
    params, opt = run(lambda p: optim.RMSprop(p, **config), start, grads)
    assert_matches(params, reference_rmsprop(start, grads, **config))
    expected = {"step", "square_avg"} | ({"momentum_buffer"} if config.get("momentum") else set()) \
        | ({"grad_avg"} if config.get("centered") else set())
    assert all(set(opt.state[p]) == expected and opt.state[p]["step"] == STEPS for p in params)


@pytest.mark.parametrize("config", ADAGRAD_CONFIGS.values(), ids=ADAGRAD_CONFIGS.keys())
def test_adagrad_matches_reference(config):
    start, grads = make_problem()
    params, opt = run(lambda p: optim.Adagrad(p, **config), start, grads)
    assert_matches(params, reference_adagrad(start, grads, **config))
    assert all(set(opt.state[p]) == {"step", "sum"} and opt.state[p]["step"] == STEPS for p in params)


@pytest.mark.parametrize("config", [dict(), dict(lr=0.01, weight_decay=0.5)], ids=["default", "strong_decay"])
def test_adamw_matches_reference(config):
    start, grads = make_problem()
    params, opt = run(lambda p: optim.AdamW(p, **config), start, grads)
    expected = reference_adam(start, grads, decoupled=True, **{"weight_decay": 1e-2, **config})
    assert_matches(params, expected)
    assert opt.defaults["weight_decay"] == config.get("weight_decay", 1e-2)


@pytest.mark.parametrize("make_optimizer", [
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda p: optim.Adam(p, weight_decay=0.1),
    lambda p: optim.AdamW(p),
    lambda p: optim.RMSprop(p, momentum=0.9, centered=True, weight_decay=0.1),
    lambda p: optim.Adagrad(p, weight_decay=0.1),
], ids=["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_parameters_without_grad_are_skipped(make_optimizer):
    rng = np.random.default_rng(1)
    used, unused = Parameter(rng.standard_normal(3, dtype=np.float32)), Parameter(np.ones(3, np.float32))
    opt = make_optimizer([used, unused])
    for _ in range(3):
        used.grad = Tensor(rng.standard_normal(3, dtype=np.float32))
        opt.step()
    np.testing.assert_array_equal(unused.data, np.ones(3, np.float32))
    if isinstance(opt, optim.Adagrad):
        # as PyTorch's, Adagrad creates every parameter's state when it joins
        assert opt.state[unused]["step"].item() == 0 and opt.state_dict()["state"].keys() == {0, 1}
    else:
        assert unused not in opt.state
        assert opt.state_dict()["state"].keys() == {0}


def test_adam_counts_steps_per_parameter():
    """As PyTorch: a parameter's bias correction uses its own step count."""
    start, grads = make_problem(steps=4)
    params = [Parameter(array.copy()) for array in start[:2]]
    opt = optim.Adam(params, lr=0.01)
    for step, step_grads in enumerate(grads):
        params[0].grad = Tensor(step_grads[0])
        params[1].grad = Tensor(step_grads[1]) if step >= 2 else None
        opt.step()
    assert [opt.state[p]["step"] for p in params] == [4, 2]
    assert_matches([params[1]], reference_adam([start[1]], [[g[1]] for g in grads[2:]], lr=0.01))


def test_float32_stays_float32():
    """float64 gradients and numpy float64 hyperparameters must not promote."""
    start, grads = make_problem(steps=3)
    for make_optimizer in (lambda p: optim.SGD(p, lr=np.float64(0.1), momentum=np.float64(0.9),
                                               weight_decay=np.float64(0.01)),
                           lambda p: optim.Adam(p, lr=np.float64(1e-3), betas=(np.float64(0.9), 0.999)),
                           lambda p: optim.AdamW(p, weight_decay=np.float64(0.1))):
        params, opt = run(make_optimizer, start, [[g.astype(np.float64) for g in gs] for gs in grads])
        assert all(p.dtype == np.float32 for p in params)
        assert all(value.dtype == np.float32 for entry in opt.state.values() for value in entry.values())


def test_updates_in_place():
    """The parameter keeps its array object; no graph is recorded."""
    param = Parameter(np.ones(4, np.float32))
    array = param.data
    param.grad = Tensor(np.full(4, 2.0, np.float32))
    optim.Adam([param]).step()
    assert param.data is array and param.is_leaf
    assert np.all(param.data < 1)


@pytest.mark.parametrize("make_optimizer", [
    lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda p: optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.1),
    lambda p: optim.Adam(p, lr=0.01, weight_decay=0.01),
    lambda p: optim.AdamW(p, lr=0.01),
    lambda p: optim.RMSprop(p, lr=0.01, momentum=0.9, centered=True, weight_decay=0.01),
    lambda p: optim.RMSprop(p, lr=0.01),
    lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1),
    lambda p: optim.Adam([{"params": p[:1]}, {"params": p[1:], "lr": 0.05, "betas": (0.8, 0.9)}], lr=0.01),
], ids=["SGD_nesterov", "SGD_dampening", "Adam", "AdamW", "RMSprop_all", "RMSprop_plain", "Adagrad", "Adam_groups"])
@pytest.mark.parametrize("through_file", [False, True], ids=["in_memory", "npz_file"])
def test_state_dict_round_trip_resumes_exactly(make_optimizer, through_file, tmp_path):
    start, grads = make_problem()
    straight, _ = run(make_optimizer, start, grads)

    first_half, opt = run(make_optimizer, start, grads[:5])
    state = opt.state_dict()
    if through_file:
        save(state, tmp_path / "optimizer.npz")
        state = load(tmp_path / "optimizer.npz")
    resumed = [Parameter(param.data.copy()) for param in first_half]
    new_opt = make_optimizer(resumed)
    new_opt.load_state_dict(state)
    for step_grads in grads[5:]:
        for param, grad in zip(resumed, step_grads):
            param.grad = Tensor(grad)
        new_opt.step()
    for param, want in zip(resumed, straight):
        np.testing.assert_array_equal(param.data, want.data)


def test_state_dict_is_a_copy():
    start, grads = make_problem(steps=2)
    params, opt = run(lambda p: optim.Adam(p), start, grads)
    state = opt.state_dict()
    state["state"][0]["exp_avg"][...] = 123.0
    assert not np.any(opt.state[params[0]]["exp_avg"].data == 123.0)


def _corrupt(state, how):
    if how == "shape":
        state["state"][1]["exp_avg_sq"] = np.zeros((7,), np.float32)
    elif how == "unknown_buffer":
        state["state"][2]["momentum_buffer"] = np.zeros(SHAPES[2], np.float32)
    elif how == "bad_index":
        state["state"][9] = state["state"].pop(0)
    elif how == "group_size":
        state["param_groups"][0]["params"] = [0, 1]
    elif how == "bad_lr":
        state["param_groups"][0]["lr"] = -1.0
    elif how == "other_optimizer":
        group = state["param_groups"][0]
        del group["betas"], group["eps"]
        group.update(momentum=0.9, dampening=0.0, nesterov=False)
    elif how == "bad_step":
        state["state"][0]["step"] = -3
    return state


@pytest.mark.parametrize("how", ["shape", "unknown_buffer", "bad_index", "group_size", "bad_lr",
                                 "other_optimizer", "bad_step"])
def test_bad_load_leaves_optimizer_unchanged(how):
    start, grads = make_problem(steps=3)
    params, opt = run(lambda p: optim.Adam(p, lr=0.01), start, grads)
    other_params, other = run(lambda p: optim.Adam(p, lr=0.5, betas=(0.5, 0.6)), start, grads[:1])
    before = opt.state_dict()
    with pytest.raises(ValueError, match="Adam.load_state_dict failed"):
        opt.load_state_dict(_corrupt(other.state_dict(), how))
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for index, entry in before["state"].items():
        assert after["state"][index]["step"] == entry["step"]
        np.testing.assert_array_equal(after["state"][index]["exp_avg"], entry["exp_avg"])


def test_load_casts_and_copies_buffers():
    start, grads = make_problem(steps=2)
    _, opt = run(lambda p: optim.SGD(p, lr=0.1, momentum=0.9), start, grads)
    state = opt.state_dict()
    state["state"][0]["momentum_buffer"] = state["state"][0]["momentum_buffer"].astype(np.float64)
    params = [Parameter(array.copy()) for array in start]
    new_opt = optim.SGD(params, lr=0.1, momentum=0.9)
    new_opt.load_state_dict(state)
    buffer = new_opt.state[params[0]]["momentum_buffer"]
    assert buffer.dtype == np.float32 and not np.shares_memory(buffer, state["state"][0]["momentum_buffer"])


@pytest.mark.parametrize("make_optimizer, message", [
    (lambda p: optim.SGD(p, lr=-0.1), r"SGD: lr must be >= 0.0, got -0.1"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), r"SGD: momentum must be >= 0.0, got -0.5"),
    (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1), r"SGD: weight_decay must be >= 0.0, got -1"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), r"SGD: nesterov needs momentum > 0"),
    (lambda p: optim.SGD(p, lr=float("nan")), r"SGD: lr must be a finite number, got nan"),
    (lambda p: optim.Adam(p, lr=-1e-3), r"Adam: lr must be >= 0.0, got -0.001"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), r"Adam: betas\[0\] must be < 1.0, got 1.0"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), r"Adam: betas\[1\] must be >= 0.0, got -0.1"),
    (lambda p: optim.Adam(p, betas=0.9), r"Adam: betas must be a pair"),
    (lambda p: optim.Adam(p, eps=-1e-8), r"Adam: eps must be >= 0.0, got -1e-08"),
    (lambda p: optim.AdamW(p, weight_decay=-0.01), r"AdamW: weight_decay must be >= 0.0, got -0.01"),
    (lambda p: optim.AdamW(p, lr="0.1"), r"AdamW: lr must be a finite number, got '0.1'"),
    (lambda p: optim.RMSprop(p, alpha=-0.5), r"RMSprop: alpha must be >= 0.0, got -0.5"),
    (lambda p: optim.RMSprop(p, momentum=-0.1), r"RMSprop: momentum must be >= 0.0, got -0.1"),
    (lambda p: optim.RMSprop(p, eps=-1.0), r"RMSprop: eps must be >= 0.0, got -1.0"),
    (lambda p: optim.RMSprop(p, centered="yes"), r"RMSprop: centered must be True or False, got 'yes'"),
])
def test_bad_hyperparameters_raise(make_optimizer, message):
    with pytest.raises(ValueError, match=message):
        make_optimizer([Parameter(np.zeros(2, np.float32))])


def test_bad_params_raise():
    param = Parameter(np.zeros(2, np.float32))
    with pytest.raises(TypeError, match="Adam: params must be an iterable"):
        optim.Adam(param)
    with pytest.raises(ValueError, match="SGD: got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="appears more than once"):
        optim.Adam([param, param])
    with pytest.raises(TypeError, match="can only optimize floating point"):
        optim.Adam([Tensor(np.zeros(2, np.int64))])
    opt = optim.SGD([param], lr=0.1)
    param.grad = Tensor(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"has shape \(2,\) but its gradient has shape \(3,\)"):
        opt.step()


def test_param_groups_have_their_own_hyperparameters():
    first, second = Parameter(np.ones(2, np.float32)), Parameter(np.ones(2, np.float32))
    opt = optim.SGD([{"params": [first]}, {"params": [second], "lr": 0.5}], lr=0.1)
    assert [group["lr"] for group in opt.param_groups] == [0.1, 0.5]
    first.grad = second.grad = Tensor(np.ones(2, np.float32))
    opt.step()
    np.testing.assert_allclose(first.data, 0.9)
    np.testing.assert_allclose(second.data, 0.5)

    opt.param_groups[1]["lr"] = 0.25     # a schedule edits the group between steps
    opt.step()
    np.testing.assert_allclose(second.data, 0.25)
    opt.param_groups[0]["lr"] = -1.0
    with pytest.raises(ValueError, match="SGD: lr must be >= 0.0, got -1.0"):
        opt.step()
    with pytest.raises(ValueError, match="appears more than once"):
        opt.add_param_group({"params": [first]})


def test_zero_grad():
    param = Parameter(np.ones(2, np.float32))
    opt = optim.Adam([param])
    param.grad = Tensor(np.ones(2, np.float32))
    shared = param.grad.data
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(param.grad.data, 0)
    np.testing.assert_array_equal(shared, 1)   # a fresh array, not zeroed in place
    opt.zero_grad()
    assert param.grad is None


def test_step_closure_returns_loss():
    param = Parameter(np.array([3.0], np.float32))
    opt = optim.SGD([param], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (param * param).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(param.data, [1.5])


def test_repr_shows_groups_and_hyperparameters():
    opt = optim.Adam([Parameter(np.zeros((3, 4), np.float32)), Parameter(np.zeros(4, np.float32))])
    text = repr(opt)
    assert text.startswith("Adam (\nParameter Group 0\n    amsgrad: False\n    betas: (0.9, 0.999)\n")
    assert "    lr: 0.001\n" in text and text.endswith("    weight_decay: 0\n)")
    opt.add_param_group({"params": [Parameter(np.zeros(2, np.float32))], "lr": 0.5})
    assert "    weight_decay: 0\n\nParameter Group 1\n    amsgrad: False\n" in repr(opt)


# --- parity with PyTorch ---------------------------------------------------------------------

TORCH_CASES = {
    "SGD_momentum_wd": (lambda p: optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01),
                        lambda torch, p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01)),
    "SGD_nesterov": (lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
                     lambda torch, p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True,
                                                      weight_decay=0.01)),
    "SGD_dampening": (lambda p: optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.2),
                      lambda torch, p: torch.optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.2)),
    "Adam_wd": (lambda p: optim.Adam(p, lr=0.01, betas=(0.85, 0.995), weight_decay=0.05),
                lambda torch, p: torch.optim.Adam(p, lr=0.01, betas=(0.85, 0.995), weight_decay=0.05)),
    "AdamW": (lambda p: optim.AdamW(p, lr=0.01, weight_decay=0.1),
              lambda torch, p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1)),
}


@pytest.mark.parametrize("ours, theirs", TORCH_CASES.values(), ids=TORCH_CASES.keys())
def test_matches_torch_optim(ours, theirs):
    _check_against_torch(ours, theirs)


@pytest.mark.parametrize("config", RMSPROP_CONFIGS.values(), ids=RMSPROP_CONFIGS.keys())
def test_rmsprop_matches_torch(config):
    _check_against_torch(lambda p: optim.RMSprop(p, **config), lambda torch, p: torch.optim.RMSprop(p, **config))


def test_rmsprop_state_dict_matches_torch_layout():
    """Same buffer names as PyTorch, so a converted PyTorch state resumes here."""
    torch = pytest.importorskip("torch")
    config = dict(lr=0.01, momentum=0.9, centered=True)
    start, grads = make_problem(seed=4)
    torch_params = [torch.tensor(array.copy(), requires_grad=True) for array in start]
    torch_opt = torch.optim.RMSprop(torch_params, **config)
    for param, grad in zip(torch_params, grads[0]):
        param.grad = torch.tensor(grad)
    torch_opt.step()
    theirs = torch_opt.state_dict()
    converted = {"state": {index: {key: int(value.item()) if key == "step" else value.numpy()
                                   for key, value in entry.items()} for index, entry in theirs["state"].items()},
                 "param_groups": [{key: group[key] for key in ("lr", "alpha", "eps", "weight_decay", "momentum",
                                                              "centered", "params")}
                                  for group in theirs["param_groups"]]}
    params = [Parameter(param.detach().numpy().copy()) for param in torch_params]
    ours = optim.RMSprop(params, **config)
    ours.load_state_dict(converted)
    for step_grads in grads[1:]:
        for param, torch_param, grad in zip(params, torch_params, step_grads):
            param.grad, torch_param.grad = Tensor(grad), torch.tensor(grad)
        ours.step()
        torch_opt.step()
    for param, torch_param in zip(params, torch_params):
        np.testing.assert_allclose(param.data, torch_param.detach().numpy(), rtol=1e-5, atol=1e-6)


def _check_against_torch(ours, theirs):
    torch = pytest.importorskip("torch")
    start, grads = make_problem(seed=3)
    params, _ = run(ours, start, grads)

    torch_params = [torch.tensor(array.copy(), requires_grad=True) for array in start]
    torch_opt = theirs(torch, torch_params)
    for step_grads in grads:
        for param, grad in zip(torch_params, step_grads):
            param.grad = torch.tensor(grad)
        torch_opt.step()
    for param, torch_param in zip(params, torch_params):
        want = torch_param.detach().numpy()
        assert want.dtype == np.float32
        np.testing.assert_allclose(param.data, want, rtol=1e-5, atol=1e-6)


def test_rmsprop_load_checks_buffers_against_the_loaded_options():
    start, grads = make_problem(steps=2)
    params, opt = run(lambda p: optim.RMSprop(p, centered=True), start, grads)
    state = opt.state_dict()
    plain = optim.RMSprop([Parameter(array.copy()) for array in start])
    plain.load_state_dict(state)                       # takes the saved options, as in PyTorch
    assert plain.param_groups[0]["centered"] is True and "grad_avg" in plain.state_dict()["state"][0]
    del state["state"][1]["grad_avg"]
    with pytest.raises(ValueError, match=r"RMSprop.load_state_dict failed .*state for parameter 1 has "
                                         r"\['square_avg', 'step'\], expected \['grad_avg', 'square_avg', 'step'\]"):
        optim.RMSprop([Parameter(array.copy()) for array in start]).load_state_dict(state)


# --- param groups against torch, stale graphs, schedulers' keys --------------------------------

# group 0 takes the constructor's options, group 1 overrides some of them
GROUP_CASES = {
    "SGD": ("SGD", dict(lr=0.05, momentum=0.9), dict(lr=0.01, momentum=0.5, weight_decay=0.1, nesterov=True)),
    "Adam": ("Adam", dict(lr=0.01), dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.01)),
    "AdamW": ("AdamW", dict(lr=0.01, weight_decay=0.1), dict(lr=0.003, eps=1e-4)),
    "RMSprop": ("RMSprop", dict(lr=0.01, momentum=0.9), dict(lr=0.002, alpha=0.8, centered=True)),
    # (PyTorch's Adagrad fills its sums from the constructor's initial_accumulator_value even
    # where a group sets its own; ours uses the group's, so only the constructor sets it here)
    "Adagrad": ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.2),
                dict(lr=0.05, weight_decay=0.1, eps=1e-6)),
}


def _grouped(params, second):
    return [{"params": params[:1]}, {"params": params[1:], **second}]


@pytest.mark.parametrize("name, options, second", GROUP_CASES.values(), ids=GROUP_CASES.keys())
def test_param_groups_match_torch(name, options, second):
    _check_against_torch(lambda p: getattr(optim, name)(_grouped(p, second), **options),
                         lambda torch, p: getattr(torch.optim, name)(_grouped(p, second), **options))


@pytest.mark.parametrize("config", ADAGRAD_CONFIGS.values(), ids=ADAGRAD_CONFIGS.keys())
def test_adagrad_matches_torch(config):
    _check_against_torch(lambda p: optim.Adagrad(p, **config), lambda torch, p: torch.optim.Adagrad(p, **config))


@pytest.mark.parametrize("name, options, second", GROUP_CASES.values(), ids=GROUP_CASES.keys())
def test_param_groups_keep_their_options_and_round_trip(name, options, second):
    start, grads = make_problem(steps=4)
    params, opt = run(lambda p: getattr(optim, name)(_grouped(p, second), **options), start, grads[:2])
    assert len(opt.param_groups) == 2 and opt.param_groups[1]["params"] == params[1:]
    for key, value in second.items():
        assert opt.param_groups[1][key] == value
    assert all(opt.param_groups[0][key] == value for key, value in options.items())
    state = opt.state_dict()
    assert [group["params"] for group in state["param_groups"]] == [[0], [1, 2]]
    resumed = [Parameter(param.data.copy()) for param in params]
    new_opt = getattr(optim, name)(_grouped(resumed, {}), **options)     # the groups' options come from the state
    new_opt.load_state_dict(state)
    for key, value in second.items():
        assert new_opt.param_groups[1][key] == value
    for step_grads in grads[2:]:
        for param, other, grad in zip(params, resumed, step_grads):
            param.grad, other.grad = Tensor(grad), Tensor(grad)
        opt.step()
        new_opt.step()
    for param, other in zip(params, resumed):
        np.testing.assert_array_equal(param.data, other.data)


@pytest.mark.parametrize("make_optimizer", [
    lambda p: optim.SGD(p, lr=0.1), lambda p: optim.Adam(p), lambda p: optim.AdamW(p),
    lambda p: optim.RMSprop(p), lambda p: optim.Adagrad(p),
], ids=["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_step_makes_an_earlier_graph_stale(make_optimizer):
    """As PyTorch: backward through a graph that saved a parameter before the
    step would use the updated values, so it raises."""
    param = Parameter(np.array([1.0, 2.0], np.float32))
    opt = make_optimizer([param])
    loss = (param * param).sum()
    loss.backward(retain_graph=True)
    version = param._version
    opt.step()
    assert param._version == version + 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    opt.zero_grad()
    (param * param).sum().backward()          # a graph recorded after the step is fine
    opt.step()


def test_step_graph_staleness_matches_torch():
    torch = pytest.importorskip("torch")
    weight = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    opt = torch.optim.SGD([weight], lr=0.1)
    loss = (weight * weight).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError):
        loss.backward()


def test_load_keeps_scheduler_keys_and_needs_the_optimizer_keys():
    start, grads = make_problem(steps=2)
    params, opt = run(lambda p: optim.SGD(p, lr=0.1, momentum=0.9), start, grads)
    opt.param_groups[0]["initial_lr"] = 0.1          # what a scheduler adds
    state = opt.state_dict()
    fresh = optim.SGD([Parameter(array.copy()) for array in start], lr=0.5)
    fresh.load_state_dict(state)
    assert fresh.param_groups[0]["initial_lr"] == 0.1 and fresh.param_groups[0]["lr"] == 0.1
    del state["param_groups"][0]["momentum"]
    with pytest.raises(ValueError, match=r"SGD.load_state_dict failed .*group 0 has keys .*expected "
                                         r"\['dampening', 'lr', 'momentum', 'nesterov', 'params', 'weight_decay'\]"):
        fresh.load_state_dict(state)


# --- PyTorch's group keys, maximize, amsgrad, state as Tensors -------------------------------

# what torch 2.13 prints for a group with the defaults (without 'params')
TORCH_DEFAULT_GROUPS = {
    "SGD": "{'lr': 0.1, 'momentum': 0, 'dampening': 0, 'weight_decay': 0, 'nesterov': False, 'maximize': False, "
           "'foreach': None, 'differentiable': False, 'fused': None}",
    "Adam": "{'lr': 0.001, 'betas': (0.9, 0.999), 'eps': 1e-08, 'weight_decay': 0, 'amsgrad': False, "
            "'maximize': False, 'foreach': None, 'capturable': False, 'differentiable': False, 'fused': None, "
            "'decoupled_weight_decay': False}",
    "AdamW": "{'lr': 0.001, 'betas': (0.9, 0.999), 'eps': 1e-08, 'weight_decay': 0.01, 'amsgrad': False, "
             "'maximize': False, 'foreach': None, 'capturable': False, 'differentiable': False, 'fused': None, "
             "'decoupled_weight_decay': True}",
    "RMSprop": "{'lr': 0.01, 'momentum': 0, 'alpha': 0.99, 'eps': 1e-08, 'centered': False, 'weight_decay': 0, "
               "'capturable': False, 'foreach': None, 'maximize': False, 'differentiable': False}",
    "Adagrad": "{'lr': 0.01, 'lr_decay': 0, 'eps': 1e-10, 'weight_decay': 0, 'initial_accumulator_value': 0, "
               "'foreach': None, 'maximize': False, 'differentiable': False, 'fused': None}",
}


def _make(module, name, params):
    return getattr(module, name)(params, **({"lr": 0.1} if name == "SGD" else {}))


@pytest.mark.parametrize("name", TORCH_DEFAULT_GROUPS)
def test_groups_print_as_pytorch(name):
    opt = _make(optim, name, [Parameter(np.zeros(2, np.float32))])
    group = {key: value for key, value in opt.param_groups[0].items() if key != "params"}
    assert str(group) == TORCH_DEFAULT_GROUPS[name]
    assert list(opt.param_groups[0])[0] == "params"                     # live groups start with 'params'
    assert list(opt.state_dict()["param_groups"][0])[-1] == "params"    # saved ones end with it
    assert str(opt.defaults) == TORCH_DEFAULT_GROUPS[name]


@pytest.mark.parametrize("name", TORCH_DEFAULT_GROUPS)
def test_state_dict_and_repr_print_as_torch(name):
    torch = pytest.importorskip("torch")
    start, grads = make_problem(steps=2)
    texts = []
    for module, tensor, param_type in ((optim, Tensor, Parameter), (torch.optim, torch.tensor, torch.nn.Parameter)):
        params = [param_type(tensor(array.copy())) for array in start[:2]]
        opt = _make(module, name, params)
        lines = [str(opt.state_dict()), repr(opt)]
        for step_grads in grads:
            for param, grad in zip(params, step_grads):
                param.grad = tensor(grad)
            opt.step()
            lines.append(str(opt.state_dict()))
        texts.append("\n".join(lines))
    assert texts[0] == texts[1]


def test_sgd_default_lr_is_pytorchs():
    assert optim.SGD([Parameter(np.zeros(2, np.float32))]).param_groups[0]["lr"] == 1e-3


def test_state_holds_tensors_like_pytorch():
    start, grads = make_problem(steps=3)
    params, opt = run(lambda p: optim.Adam(p, amsgrad=True), start, grads)
    entry = opt.state[params[0]]
    assert list(entry) == ["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
    assert isinstance(entry["step"], Tensor) and entry["step"].shape == () and entry["step"].dtype == np.float32
    assert entry["step"].item() == 3.0 and repr(entry["step"]) == "tensor(3.)"
    assert all(isinstance(entry[key], Tensor) and entry[key].shape == SHAPES[0] for key in list(entry)[1:])
    assert np.all(entry["max_exp_avg_sq"].data >= entry["exp_avg_sq"].data)


def test_old_checkpoints_load():
    """Integer steps, numpy buffers and groups without PyTorch's switches (what
    earlier versions saved) still resume exactly."""
    start, grads = make_problem(steps=4)
    straight, _ = run(lambda p: optim.Adam(p, lr=0.01), start, grads)
    half, opt = run(lambda p: optim.Adam(p, lr=0.01), start, grads[:2])
    state = opt.state_dict()
    old = {"state": {index: {key: int(value.item()) if key == "step" else value.data.copy()
                             for key, value in entry.items()} for index, entry in state["state"].items()},
           "param_groups": [{key: group[key] for key in ("lr", "betas", "eps", "weight_decay", "params")}
                            for group in state["param_groups"]]}
    resumed = [Parameter(param.data.copy()) for param in half]
    new_opt = optim.Adam(resumed, lr=0.01)
    new_opt.load_state_dict(old)
    assert new_opt.param_groups[0]["maximize"] is False and new_opt.param_groups[0]["fused"] is None
    assert new_opt.state[resumed[0]]["step"].dtype == np.float32
    for step_grads in grads[2:]:
        for param, grad in zip(resumed, step_grads):
            param.grad = Tensor(grad)
        new_opt.step()
    for param, want in zip(resumed, straight):
        np.testing.assert_array_equal(param.data, want.data)


def reference_amsgrad(start, grads, lr, betas, eps, weight_decay=0.0):
    beta1, beta2 = betas
    params = [array.astype(np.float64) for array in start]
    m, v, v_max = ([np.zeros_like(p) for p in params] for _ in range(3))
    for t, step_grads in enumerate(grads, start=1):
        for i, grad in enumerate(step_grads):
            g = grad.astype(np.float64) + weight_decay * params[i]
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            v_max[i] = np.maximum(v_max[i], v[i])
            denom = np.sqrt(v_max[i]) / np.sqrt(1 - beta2 ** t) + eps
            params[i] = params[i] - lr / (1 - beta1 ** t) * m[i] / denom
    return params


def test_amsgrad_matches_reference():
    start, grads = make_problem()
    config = dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.05)
    params, _ = run(lambda p: optim.Adam(p, amsgrad=True, **config), start, grads)
    assert_matches(params, reference_amsgrad(start, grads, **config))
    plain, _ = run(lambda p: optim.Adam(p, **config), start, grads)
    assert not np.allclose(plain[0].data, params[0].data)       # the option changes the result


MAXIMIZE_CASES = {
    "SGD": (dict(lr=0.05, momentum=0.9, weight_decay=0.01), reference_sgd),
    "Adam": (dict(lr=0.01, weight_decay=0.05), reference_adam),
    "RMSprop": (dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.01), reference_rmsprop),
    "Adagrad": (dict(lr=0.1, weight_decay=0.1), reference_adagrad),
}


@pytest.mark.parametrize("name", MAXIMIZE_CASES)
def test_maximize_is_descent_on_the_negated_gradient(name):
    """maximize=True with gradients g equals minimising with -g (weight decay unchanged)."""
    config, reference = MAXIMIZE_CASES[name]
    start, grads = make_problem()
    params, _ = run(lambda p: getattr(optim, name)(p, maximize=True, **config), start, grads)
    assert_matches(params, reference(start, [[-g for g in gs] for gs in grads], **config))
    for gs in grads:
        assert all(g.dtype == np.float32 for g in gs)


OPTION_CASES = {
    "SGD_maximize": ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01, maximize=True)),
    "Adam_maximize": ("Adam", dict(lr=0.01, weight_decay=0.05, maximize=True)),
    "Adam_amsgrad": ("Adam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.05, amsgrad=True)),
    "Adam_amsgrad_maximize": ("Adam", dict(lr=0.01, amsgrad=True, maximize=True)),
    "Adam_decoupled": ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    "AdamW_amsgrad": ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    "AdamW_maximize": ("AdamW", dict(lr=0.01, maximize=True, foreach=False, capturable=False)),
    "RMSprop_maximize": ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, maximize=True)),
    "Adagrad_maximize": ("Adagrad", dict(lr=0.1, lr_decay=0.01, maximize=True, foreach=False)),
}


@pytest.mark.parametrize("name, config", OPTION_CASES.values(), ids=OPTION_CASES.keys())
def test_options_match_torch(name, config):
    _check_against_torch(lambda p: getattr(optim, name)(p, **config),
                         lambda torch, p: getattr(torch.optim, name)(p, **config))


def test_amsgrad_round_trips_and_checks_its_buffer():
    start, grads = make_problem()
    make = lambda p: optim.Adam(p, lr=0.01, amsgrad=True)   # noqa: E731
    straight, _ = run(make, start, grads)
    half, opt = run(make, start, grads[:5])
    state = opt.state_dict()
    resumed = [Parameter(param.data.copy()) for param in half]
    new_opt = make(resumed)
    new_opt.load_state_dict(state)
    for step_grads in grads[5:]:
        for param, grad in zip(resumed, step_grads):
            param.grad = Tensor(grad)
        new_opt.step()
    for param, want in zip(resumed, straight):
        np.testing.assert_array_equal(param.data, want.data)
    del state["state"][0]["max_exp_avg_sq"]
    with pytest.raises(ValueError, match=r"Adam.load_state_dict failed .*state for parameter 0 has "
                                         r"\['exp_avg', 'exp_avg_sq', 'step'\]"):
        make([Parameter(array.copy()) for array in start]).load_state_dict(state)


@pytest.mark.parametrize("make_optimizer, error, message", [
    (lambda p: optim.Adam(p, fused=True), NotImplementedError, r"Adam: fused=True is not implemented"),
    (lambda p: optim.SGD(p, differentiable=True), NotImplementedError,
     r"SGD: differentiable=True is not implemented"),
    (lambda p: optim.Adam(p, amsgrad="yes"), ValueError, r"Adam: amsgrad must be True or False, got 'yes'"),
    (lambda p: optim.RMSprop(p, maximize=1), ValueError, r"RMSprop: maximize must be True or False, got 1"),
    (lambda p: optim.Adagrad(p, foreach="no"), ValueError,
     r"Adagrad: foreach must be True or False or None, got 'no'"),
])
def test_bad_switches_raise(make_optimizer, error, message):
    with pytest.raises(error, match=message):
        make_optimizer([Parameter(np.zeros(2, np.float32))])


def test_switches_accepted_as_pytorch():
    param = Parameter(np.zeros(2, np.float32))
    for opt in (optim.Adam([param], foreach=True, capturable=True, fused=False),
                optim.SGD([param], foreach=False, fused=None), optim.RMSprop([param], capturable=True)):
        param.grad = Tensor(np.ones(2, np.float32))
        opt.step()
    assert np.all(param.data < 0)


def test_adadelta_against_a_float64_reference():
    rng = np.random.default_rng(3)
    start = rng.standard_normal(5)
    grads = [rng.standard_normal(5) for _ in range(6)]
    param = Parameter(start.astype(np.float64))
    opt = optim.Adadelta([param], lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1)
    p, v, u = start.copy(), np.zeros(5), np.zeros(5)
    for g in grads:
        param.grad = Tensor(g.copy())
        opt.step()
        g = g + 0.1 * p
        v = 0.8 * v + 0.2 * g * g
        d = np.sqrt(u + 1e-5) / np.sqrt(v + 1e-5) * g
        u = 0.8 * u + 0.2 * d * d
        p = p - 0.5 * d
    np.testing.assert_allclose(param.data, p, rtol=1e-12)
    assert param.data.dtype == np.float64
    with pytest.raises(ValueError, match="rho must be in"):
        optim.Adadelta([param], rho=1.5)


def test_adadelta_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    start = rng.standard_normal((3, 4)).astype(np.float32)
    ours, theirs = Parameter(start.copy()), torch.nn.Parameter(torch.from_numpy(start.copy()))
    opt_ours = optim.Adadelta([ours], weight_decay=0.01)
    opt_theirs = torch.optim.Adadelta([theirs], weight_decay=0.01)
    assert {k: v for k, v in opt_ours.param_groups[0].items() if k != "params"} == \
        {k: v for k, v in opt_theirs.param_groups[0].items() if k != "params"}
    for _ in range(10):
        g = rng.standard_normal((3, 4)).astype(np.float32)
        ours.grad, theirs.grad = Tensor(g.copy()), torch.from_numpy(g.copy())
        opt_ours.step()
        opt_theirs.step()
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-5, atol=1e-7)
