"""Tests of tinygrad_cnn.optim.lr_scheduler: lr sequences (and OneCycle's
momentum/beta1) against torch.optim.lr_scheduler over 30 steps (skipped
without torch), hand-computed values, state_dict round trips and errors."""
import math

import numpy as np
import pytest

from tinygrad_cnn import manual_seed, optim
from tinygrad_cnn.nn import Parameter
from tinygrad_cnn.optim import lr_scheduler
from tinygrad_cnn.serialization import load, save

STEPS = 30


def make_optimizer(kind="SGD", module=optim, parameter=None):
    """Two parameter groups (lr 0.1 and 0.02) of the given optimizer class."""
    parameter = parameter or (lambda: Parameter(np.ones(2, np.float32)))
    groups = [{"params": [parameter()]}, {"params": [parameter()], "lr": 0.02}]
    if kind == "SGD":
        return module.SGD(groups, lr=0.1, momentum=0.9)
    return getattr(module, kind)(groups, lr=0.1)


def run_schedule(optimizer, scheduler, steps=STEPS, metrics=None):
    """The lrs (and momenta) after construction and after each step."""
    def snapshot():
        momenta = [group.get("momentum", group.get("betas", (None,))[0]) for group in optimizer.param_groups]
        return [float(lr) for lr in scheduler.get_last_lr()], momenta
    seen = [snapshot()]
    for step in range(steps):
        optimizer.step()
        scheduler.step() if metrics is None else scheduler.step(metrics[step])
        seen.append(snapshot())
    return seen


SCHEDULES = {
    "StepLR": lambda L, o: L.StepLR(o, step_size=7),
    "StepLR_gamma": lambda L, o: L.StepLR(o, step_size=3, gamma=0.5),
    "MultiStepLR": lambda L, o: L.MultiStepLR(o, milestones=[4, 11, 11, 25], gamma=0.3),
    "ExponentialLR": lambda L, o: L.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda L, o: L.CosineAnnealingLR(o, T_max=30),
    "CosineAnnealingLR_restart": lambda L, o: L.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
    "LambdaLR": lambda L, o: L.LambdaLR(o, lr_lambda=lambda epoch: 0.95 ** epoch),
    "LambdaLR_per_group": lambda L, o: L.LambdaLR(o, [lambda e: 1 / (1 + e), lambda e: min(1.0, (e + 1) / 5)]),
    "OneCycleLR": lambda L, o: L.OneCycleLR(o, max_lr=[0.5, 1.0], total_steps=STEPS),
    "OneCycleLR_linear_three_phase": lambda L, o: L.OneCycleLR(
        o, max_lr=0.4, epochs=3, steps_per_epoch=10, pct_start=0.25, anneal_strategy="linear", three_phase=True,
        div_factor=10.0, final_div_factor=100.0, base_momentum=0.8, max_momentum=0.9),
    "OneCycleLR_no_momentum": lambda L, o: L.OneCycleLR(o, max_lr=0.3, total_steps=STEPS + 5, cycle_momentum=False),
    "MultiplicativeLR": lambda L, o: L.MultiplicativeLR(o, lr_lambda=lambda epoch: 0.9 if epoch % 2 else 0.97),
    "ConstantLR": lambda L, o: L.ConstantLR(o, factor=0.5, total_iters=4),
    "LinearLR_warmup": lambda L, o: L.LinearLR(o, start_factor=0.1, total_iters=5),
    "LinearLR_decay": lambda L, o: L.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=20),
    "PolynomialLR": lambda L, o: L.PolynomialLR(o, total_iters=20, power=2.0),
    "CosineAnnealingWarmRestarts": lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=7),
    "CosineAnnealingWarmRestarts_mult": lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.001),
    "CyclicLR": lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4),
    "CyclicLR_triangular2": lambda L, o: L.CyclicLR(o, base_lr=[0.01, 0.001], max_lr=[0.1, 0.02], step_size_up=3,
                                                    step_size_down=5, mode="triangular2", base_momentum=0.7),
    "CyclicLR_exp_range": lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=5, mode="exp_range",
                                                  gamma=0.95, cycle_momentum=False),
    "CyclicLR_scale_fn": lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2,
                                                 scale_fn=lambda x: 1 / (1 + x), scale_mode="iterations"),
    "SequentialLR_warmup_cosine": lambda L, o: L.SequentialLR(
        o, [L.LinearLR(o, start_factor=0.1, total_iters=5), L.CosineAnnealingLR(o, T_max=25)], milestones=[5]),
    "SequentialLR_three": lambda L, o: L.SequentialLR(
        o, [L.ConstantLR(o, factor=0.5, total_iters=3), L.ExponentialLR(o, gamma=0.9), L.StepLR(o, step_size=4)],
        milestones=[3, 12]),
    "ChainedScheduler": lambda L, o: L.ChainedScheduler(
        [L.ConstantLR(o, factor=0.1, total_iters=2), L.ExponentialLR(o, gamma=0.9)]),
    "ChainedScheduler_warm_restarts": lambda L, o: L.ChainedScheduler(
        [L.LinearLR(o, start_factor=0.2, total_iters=4), L.StepLR(o, step_size=5, gamma=0.5)], optimizer=o),
}


@pytest.mark.parametrize("kind", ["SGD", "Adam"])
@pytest.mark.parametrize("schedule", SCHEDULES.values(), ids=SCHEDULES.keys())
def test_lr_sequence_matches_torch(schedule, kind):
    torch = pytest.importorskip("torch")
    ours_opt = make_optimizer(kind)
    theirs_opt = make_optimizer(kind, torch.optim, lambda: torch.ones(2, requires_grad=True))
    ours = run_schedule(ours_opt, schedule(lr_scheduler, ours_opt))
    theirs = run_schedule(theirs_opt, schedule(torch.optim.lr_scheduler, theirs_opt))
    for (our_lrs, our_momenta), (their_lrs, their_momenta) in zip(ours, theirs):
        np.testing.assert_allclose(our_lrs, their_lrs, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(our_momenta, their_momenta, rtol=1e-12)
    for ours_group, theirs_group in zip(ours_opt.param_groups, theirs_opt.param_groups):
        assert set(theirs_group) - {"params"} <= set(ours_group) | _TORCH_ONLY_GROUP_KEYS
        assert ours_group["initial_lr"] == theirs_group["initial_lr"]


# option keys torch's optimizers have and ours do not (foreach, fused, ...)
_TORCH_ONLY_GROUP_KEYS = {"foreach", "maximize", "differentiable", "fused", "capturable", "amsgrad",
                          "decoupled_weight_decay"}

PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.95, 0.95, 0.89, 0.9, 0.9, 0.9, 0.9, 0.9, 0.5, 0.6, 0.6, 0.6,
                   0.4, 0.45, 0.45, 0.45, 0.45, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
PLATEAU_OPTIONS = {
    "patience1": dict(patience=1),
    "max_abs_cooldown_min_lr": dict(mode="max", factor=0.5, patience=2, threshold=0.05, threshold_mode="abs",
                                    cooldown=2, min_lr=[0.01, 0.002]),
    "rel_threshold_cooldown": dict(factor=0.3, patience=0, cooldown=1, min_lr=0.004, threshold=0.1),
}


@pytest.mark.parametrize("options", PLATEAU_OPTIONS.values(), ids=PLATEAU_OPTIONS.keys())
def test_reduce_on_plateau_matches_torch(options):
    torch = pytest.importorskip("torch")
    ours_opt = make_optimizer()
    theirs_opt = make_optimizer("SGD", torch.optim, lambda: torch.ones(2, requires_grad=True))
    ours = run_schedule(ours_opt, lr_scheduler.ReduceLROnPlateau(ours_opt, **options), metrics=PLATEAU_METRICS)
    theirs = run_schedule(theirs_opt, torch.optim.lr_scheduler.ReduceLROnPlateau(theirs_opt, **options),
                          metrics=PLATEAU_METRICS)
    assert [lrs for lrs, _ in ours] == [lrs for lrs, _ in theirs]


# --- hand-computed values (always run) ------------------------------------------------------


def lrs_of(scheduler, optimizer, steps):
    return [lrs[0] for lrs, _ in run_schedule(optimizer, scheduler, steps)]


def test_step_multistep_exponential_by_hand():
    opt = make_optimizer()
    np.testing.assert_allclose(lrs_of(lr_scheduler.StepLR(opt, step_size=2, gamma=0.5), opt, 5),
                               [0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    opt = make_optimizer()
    np.testing.assert_allclose(lrs_of(lr_scheduler.MultiStepLR(opt, milestones=[1, 3, 3], gamma=0.1), opt, 4),
                               [0.1, 0.01, 0.01, 1e-4, 1e-4])
    opt = make_optimizer()
    np.testing.assert_allclose(lrs_of(lr_scheduler.ExponentialLR(opt, gamma=0.5), opt, 3),
                               [0.1, 0.05, 0.025, 0.0125])
    assert opt.param_groups[1]["lr"] == pytest.approx(0.02 * 0.5 ** 3)


def test_cosine_and_lambda_by_hand():
    opt = make_optimizer()
    got = lrs_of(lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.02), opt, 8)
    expected = [0.02 + 0.08 * (1 + math.cos(math.pi * epoch / 4)) / 2 for epoch in range(9)]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)     # back up after T_max
    opt = make_optimizer()
    np.testing.assert_allclose(lrs_of(lr_scheduler.LambdaLR(opt, lambda epoch: 1 / (epoch + 1)), opt, 3),
                               [0.1, 0.05, 0.1 / 3, 0.025])


def test_one_cycle_by_hand():
    opt = make_optimizer()
    scheduler = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=11, pct_start=0.5, div_factor=10.0,
                                        final_div_factor=5.0, anneal_strategy="linear")
    seen = run_schedule(opt, scheduler, steps=10)
    lrs, momenta = [lrs[0] for lrs, _ in seen], [m[0] for _, m in seen]
    # up from 0.1 to 1.0 over steps 0..4.5, then down to 0.1 / 5 at step 10
    assert lrs[0] == pytest.approx(0.1) and lrs[-1] == pytest.approx(0.02)
    assert lrs[2] == pytest.approx(0.1 + 0.9 * 2 / 4.5)
    assert lrs[7] == pytest.approx(1.0 + (0.02 - 1.0) * (7 - 4.5) / 5.5)
    assert momenta[0] == pytest.approx(0.95) and momenta[-1] == pytest.approx(0.95)
    assert min(momenta) == pytest.approx(0.85 + 0.1 * 0.5 / 5.5)     # lowest where the lr peaks
    assert opt.param_groups[0]["max_lr"] == 1.0 and opt.param_groups[0]["min_lr"] == pytest.approx(0.02)
    scheduler.step()        # PyTorch allows one step past the end (step total_steps) before raising
    with pytest.raises(ValueError, match="OneCycleLR: tried to step 12 times; the specified number of total "
                                         "steps is 11"):
        scheduler.step()


def test_warmup_then_cosine_by_hand():
    opt = make_optimizer()
    warmup = lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=3)
    cosine = lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    lrs = lrs_of(lr_scheduler.SequentialLR(opt, [warmup, cosine], milestones=[3]), opt, 7)
    expected = [0.1 * (0.25 + 0.75 * epoch / 3) for epoch in range(3)] + \
        [0.1 * (1 + math.cos(math.pi * epoch / 4)) / 2 for epoch in range(5)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12, atol=1e-15)


def test_warm_restarts_and_cyclic_by_hand():
    opt = make_optimizer()
    lrs = lrs_of(lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2), opt, 7)
    # periods of 2, 4, 8 epochs: restarts at epochs 2 and 6
    position = [(0, 2), (1, 2), (0, 4), (1, 4), (2, 4), (3, 4), (0, 8), (1, 8)]
    np.testing.assert_allclose(lrs, [0.1 * (1 + math.cos(math.pi * t / T)) / 2 for t, T in position], rtol=1e-12)
    opt = make_optimizer()
    lrs = lrs_of(lr_scheduler.CyclicLR(opt, base_lr=0.0, max_lr=0.4, step_size_up=2, mode="triangular2"), opt, 8)
    np.testing.assert_allclose(lrs, [0.0, 0.2, 0.4, 0.2, 0.0, 0.1, 0.2, 0.1, 0.0], atol=1e-15)
    assert opt.param_groups[0]["momentum"] == pytest.approx(0.9)


def test_warm_restarts_with_fractional_epochs_match_torch():
    torch = pytest.importorskip("torch")
    ours_opt, theirs_opt = make_optimizer(), make_optimizer("SGD", torch.optim, lambda: torch.ones(2, requires_grad=True))
    ours = lr_scheduler.CosineAnnealingWarmRestarts(ours_opt, T_0=3, T_mult=2, eta_min=0.01)
    theirs = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(theirs_opt, T_0=3, T_mult=2, eta_min=0.01)
    for epoch in [0.25, 0.5, 2.9, 3.0, 4.5, 8.99, 9.0, 20.3, 1.0]:
        ours.step(epoch)
        theirs.step(epoch)
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12)
        assert ours.last_epoch == theirs.last_epoch


def test_one_cycle_cycles_adams_beta1():
    opt = make_optimizer("Adam")
    lr_scheduler.OneCycleLR(opt, max_lr=0.01, total_steps=10)
    assert opt.param_groups[0]["betas"] == (0.95, 0.999)


def test_reduce_on_plateau_by_hand():
    opt = make_optimizer()
    scheduler = lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1, min_lr=0.03)
    lrs = [lrs[0] for lrs, _ in run_schedule(opt, scheduler, 7, metrics=[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])]
    # epoch 1 sets the best; epochs 2, 3 are bad -> halve; epoch 4 cooldown; 5, 6 bad -> halve (floored)
    assert lrs == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.03, 0.03]
    assert opt.param_groups[1]["lr"] == 0.02     # already below its min_lr: unchanged
    assert scheduler.last_epoch == 7 and scheduler.best == 1.0


# --- state, resuming, errors --------------------------------------------------------------------


ROUND_TRIP = ["StepLR_gamma", "CosineAnnealingLR_restart", "OneCycleLR_linear_three_phase", "LambdaLR",
              "CosineAnnealingWarmRestarts_mult", "CyclicLR_triangular2", "SequentialLR_three"]


@pytest.mark.parametrize("schedule", [SCHEDULES[name] for name in ROUND_TRIP], ids=ROUND_TRIP)
def test_state_dict_round_trip_through_a_file(schedule, tmp_path):
    opt = make_optimizer()
    straight = run_schedule(opt, schedule(lr_scheduler, opt))

    opt = make_optimizer()
    scheduler = schedule(lr_scheduler, opt)
    first = run_schedule(opt, scheduler, steps=12)
    save({"optimizer": opt.state_dict(), "scheduler": scheduler.state_dict()}, tmp_path / "state.pth")
    state = load(tmp_path / "state.pth")
    new_opt = make_optimizer()
    new_scheduler = schedule(lr_scheduler, new_opt)
    new_opt.load_state_dict(state["optimizer"])
    new_scheduler.load_state_dict(state["scheduler"])
    assert new_scheduler.last_epoch == 12 and new_scheduler.get_last_lr() == scheduler.get_last_lr()
    rest = run_schedule(new_opt, new_scheduler, steps=STEPS - 12)
    assert first + rest[1:] == straight


@pytest.mark.parametrize("name", ["StepLR_gamma", "CosineAnnealingWarmRestarts_mult", "CyclicLR_triangular2",
                                  "SequentialLR_warmup_cosine", "LinearLR_warmup"])
def test_a_torch_schedulers_state_dict_resumes_here(name):
    torch = pytest.importorskip("torch")
    theirs_opt = make_optimizer("SGD", torch.optim, lambda: torch.ones(2, requires_grad=True))
    theirs = SCHEDULES[name](torch.optim.lr_scheduler, theirs_opt)
    run_schedule(theirs_opt, theirs, steps=7)
    ours_opt = make_optimizer()
    ours = SCHEDULES[name](lr_scheduler, ours_opt)
    for group, saved in zip(ours_opt.param_groups, theirs_opt.param_groups):
        group.update({key: value for key, value in saved.items() if key != "params" and key in group})
    ours.load_state_dict(theirs.state_dict())
    assert ours.get_last_lr() == theirs.get_last_lr()
    assert [lrs for lrs, _ in run_schedule(ours_opt, ours, steps=10)] == \
        [lrs for lrs, _ in run_schedule(theirs_opt, theirs, steps=10)]


def test_reduce_on_plateau_state_round_trip(tmp_path):
    opt = make_optimizer()
    scheduler = lr_scheduler.ReduceLROnPlateau(opt, patience=1)
    for metric in (1.0, 2.0):
        scheduler.step(metric)
    save(scheduler.state_dict(), tmp_path / "plateau.pth")
    restored = lr_scheduler.ReduceLROnPlateau(make_optimizer(), patience=5)
    restored.load_state_dict(load(tmp_path / "plateau.pth"))
    assert (restored.patience, restored.num_bad_epochs, restored.best, restored.last_epoch) == (1, 1, 1.0, 2)
    fresh = lr_scheduler.ReduceLROnPlateau(make_optimizer())
    save(fresh.state_dict(), tmp_path / "fresh.pth")      # best = inf survives the file
    assert load(tmp_path / "fresh.pth")["best"] == math.inf


def test_initial_lr_and_resuming():
    opt = make_optimizer()
    scheduler = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    assert [group["initial_lr"] for group in opt.param_groups] == [0.1, 0.02] and scheduler.base_lrs == [0.1, 0.02]
    scheduler.step()
    again = lr_scheduler.ExponentialLR(opt, gamma=0.5, last_epoch=1)     # groups hold initial_lr: resumes
    # as PyTorch 2.x: the step construction makes keeps the lr when resuming too
    assert again.last_epoch == 2 and again.get_last_lr() == [0.05, 0.01]
    with pytest.raises(KeyError, match=r"param 'initial_lr' is not specified in param_groups\[0\]"):
        lr_scheduler.StepLR(make_optimizer(), step_size=2, last_epoch=3)
    stepped = make_optimizer()
    lr_scheduler.StepLR(stepped, step_size=3, gamma=0.1).step(epoch=7)     # closed form: two decays
    assert stepped.param_groups[0]["lr"] == pytest.approx(0.001)


def _sequential_with_milestones(milestones):
    opt = make_optimizer()
    return lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2), lr_scheduler.StepLR(opt, 3)], milestones)


@pytest.mark.parametrize("call, error, message", [
    (lambda: lr_scheduler.StepLR(make_optimizer(), step_size=0), ValueError,
     r"StepLR: step_size must be an integer >= 1, got 0"),
    (lambda: lr_scheduler.LambdaLR(make_optimizer(), [lambda e: 1.0]), ValueError,
     r"LambdaLR: expected 2 values for lr_lambda \(one per parameter group\), got 1"),
    (lambda: lr_scheduler.OneCycleLR(make_optimizer(), max_lr=0.1), ValueError,
     r"OneCycleLR: you must define either total_steps OR \(epochs AND steps_per_epoch\)"),
    (lambda: lr_scheduler.OneCycleLR(make_optimizer(), max_lr=0.1, total_steps=5, anneal_strategy="exp"),
     ValueError, r"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got 'exp'"),
    (lambda: lr_scheduler.OneCycleLR(make_optimizer("Adagrad"), max_lr=0.1, total_steps=5), ValueError,
     r"OneCycleLR: optimizer must support momentum or beta1 .* \(Adagrad has neither\)"),
    (lambda: lr_scheduler.ReduceLROnPlateau(make_optimizer(), factor=1.0), ValueError,
     r"ReduceLROnPlateau: factor should be < 1.0, got 1.0"),
    (lambda: lr_scheduler.ReduceLROnPlateau(make_optimizer(), mode="lowest"), ValueError,
     r"ReduceLROnPlateau: mode must be 'min' or 'max', got 'lowest'"),
    (lambda: lr_scheduler.CosineAnnealingLR(object(), T_max=3), TypeError,
     r"CosineAnnealingLR: object is not an Optimizer"),
    (lambda: lr_scheduler.LinearLR(make_optimizer(), start_factor=0.0), ValueError,
     r"LinearLR: start_factor must be greater than 0 and at most 1, got 0.0"),
    (lambda: lr_scheduler.ConstantLR(make_optimizer(), factor=2.0), ValueError,
     r"ConstantLR: factor must be between 0 and 1, got 2.0"),
    (lambda: lr_scheduler.CosineAnnealingWarmRestarts(make_optimizer(), T_0=0), ValueError,
     r"CosineAnnealingWarmRestarts: T_0 must be an integer >= 1, got 0"),
    (lambda: lr_scheduler.CyclicLR(make_optimizer(), 0.01, 0.1, mode="sawtooth"), ValueError,
     r"CyclicLR: mode must be 'triangular', 'triangular2' or 'exp_range'"),
    (lambda: lr_scheduler.CyclicLR(make_optimizer("Adagrad"), 0.01, 0.1), ValueError,
     r"CyclicLR: optimizer must support momentum or beta1"),
    (lambda: _sequential_with_milestones([2, 4]), ValueError,
     r"SequentialLR: expects one milestone fewer than schedulers, got 2 schedulers and 2 milestones"),
    (lambda: lr_scheduler.ChainedScheduler([lr_scheduler.StepLR(make_optimizer(), 2),
                                            lr_scheduler.StepLR(make_optimizer(), 2)]), ValueError,
     r"ChainedScheduler: expects all schedulers to belong to the same optimizer"),
    (lambda: lr_scheduler.SequentialLR(make_optimizer(), [], []), ValueError,
     r"SequentialLR: expects at least one scheduler"),
])
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --- fit(scheduler=...) and its checkpoints ---------------------------------------------------


def _tiny_problem(batches=4):
    """A linear classifier on a few fixed batches (a list is a loader)."""
    from tinygrad_cnn import Tensor, nn
    rng = np.random.default_rng(0)
    loader = [(Tensor(rng.standard_normal((8, 4), dtype=np.float32)), Tensor(rng.integers(0, 3, 8)))
              for _ in range(batches)]
    model = nn.Linear(4, 3)
    return model, loader


def nn_parameters():
    return [Parameter(np.ones(2, np.float32))]


def _fit(**options):
    from tinygrad_cnn.training import fit
    return fit(log_every=0, progress=False, print_fn=lambda *args: None, **options)


def test_fit_steps_the_scheduler_per_epoch_or_per_batch():
    model, loader = _tiny_problem()
    opt = optim.SGD(model.parameters(), lr=0.1)
    scheduler = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    _fit(model=model, optimizer=opt, train_loader=loader, epochs=3, scheduler=scheduler)
    assert scheduler.last_epoch == 3 and opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 3)

    model, loader = _tiny_problem()
    opt = optim.Adam(model.parameters())
    scheduler = lr_scheduler.OneCycleLR(opt, max_lr=0.05, epochs=2, steps_per_epoch=len(loader))
    _fit(model=model, optimizer=opt, train_loader=loader, epochs=2, scheduler=scheduler, scheduler_step="batch")
    assert scheduler.last_epoch == 2 * len(loader)
    alone = optim.Adam(nn_parameters())
    same = lr_scheduler.OneCycleLR(alone, max_lr=0.05, epochs=2, steps_per_epoch=len(loader))
    for _ in range(2 * len(loader)):
        same.step()
    assert opt.param_groups[0]["lr"] == alone.param_groups[0]["lr"]
    assert opt.param_groups[0]["betas"] == alone.param_groups[0]["betas"]
    with pytest.raises(ValueError, match="fit: scheduler_step must be 'epoch' or 'batch', got 'step'"):
        _fit(model=model, optimizer=opt, train_loader=loader, epochs=3, scheduler=scheduler, scheduler_step="step")


class RecordingPlateau(lr_scheduler.ReduceLROnPlateau):
    def __init__(self, *args, **kwargs):
        self.seen = []
        super().__init__(*args, **kwargs)

    def step(self, metrics, epoch=None):
        self.seen.append(metrics)
        super().step(metrics, epoch)


def test_fit_gives_reduce_on_plateau_the_validation_loss_else_the_training_loss():
    model, loader = _tiny_problem()
    opt = optim.SGD(model.parameters(), lr=0.1)
    scheduler = RecordingPlateau(opt)
    history = _fit(model=model, optimizer=opt, train_loader=loader, epochs=2, val_loader=loader[:2],
                   scheduler=scheduler)
    assert scheduler.seen == [record["val_loss"] for record in history.epochs]
    model, loader = _tiny_problem()
    opt = optim.SGD(model.parameters(), lr=0.1)
    scheduler = RecordingPlateau(opt)
    history = _fit(model=model, optimizer=opt, train_loader=loader, epochs=2, scheduler=scheduler)
    assert scheduler.seen == [record["loss"] for record in history.epochs]


def test_fit_checkpoints_the_scheduler(tmp_path):
    from tinygrad_cnn.training import load_checkpoint
    path = tmp_path / "run.npz"

    def setup():
        manual_seed(0)
        model, loader = _tiny_problem()
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        return model, loader, opt, lr_scheduler.CosineAnnealingLR(opt, T_max=4)

    model, loader, opt, scheduler = setup()
    _fit(model=model, optimizer=opt, train_loader=loader, epochs=4, scheduler=scheduler)
    straight = (opt.param_groups[0]["lr"], model.weight.data.copy())

    model, loader, opt, scheduler = setup()
    _fit(model=model, optimizer=opt, train_loader=loader, epochs=2, scheduler=scheduler, checkpoint_path=path)
    assert load(path)["scheduler"]["last_epoch"] == 2
    model, loader, opt, scheduler = setup()
    epoch, history = load_checkpoint(path, model, opt, scheduler)
    assert epoch == 2 and scheduler.last_epoch == 2
    assert opt.param_groups[0]["lr"] == scheduler.get_last_lr()[0] == pytest.approx(0.05)
    _fit(model=model, optimizer=opt, train_loader=loader, epochs=4, scheduler=scheduler, history=history)
    assert opt.param_groups[0]["lr"] == straight[0]
    np.testing.assert_array_equal(model.weight.data, straight[1])
