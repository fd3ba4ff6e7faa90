"""Hypothesis profiles. CI runs ``pytest --hypothesis-profile=ci``
(derandomized, fixed example counts); ``--hypothesis-profile=thorough`` is
for long local runs; plain ``pytest`` uses ``dev``."""
import os

from hypothesis import HealthCheck, settings

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
               print_blob=True)
settings.register_profile("ci", derandomize=True, max_examples=12, database=None, **_common)
settings.register_profile("dev", max_examples=25, **_common)
settings.register_profile("thorough", max_examples=400, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


# CI installs PyTorch for a second run of the suite and sets TINYGRAD_CNN_REQUIRE_TORCH=1: there a
# test that skips because torch is missing (or cannot be imported) is a failure, so the comparisons
# with PyTorch are counted as run, never silently skipped.
import pytest  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("TINYGRAD_CNN_REQUIRE_TORCH") == "1":
        reason = str(report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr)
        if "torch" in reason.lower():
            report.outcome = "failed"
            report.longrepr = f"TINYGRAD_CNN_REQUIRE_TORCH=1 but the test skipped: {reason}"


@pytest.fixture
def fast_kernels():
    """For tests that describe what the fast kernels keep or do (saved buffers, memory)."""
    from tinygrad_cnn import kernels
    with kernels.use("fast"):
        yield


@pytest.fixture
def two_threads():
    """The kernels split large work across 2 threads (whatever this machine's default), then
    return to the default."""
    from tinygrad_cnn.kernels import _threads
    before = _threads._chosen
    _threads.set_num_threads(2)
    yield
    _threads._chosen = before


@pytest.fixture
def reference_kernels():
    from tinygrad_cnn import kernels
    with kernels.use("reference"):
        yield


def adam_losses_both_ways(make_model, images, labels, lr=1e-3):
    """{'fast': losses, 'reference': losses}: ``make_model()`` (seeded the same way for each)
    trained by Adam on the same batches, once with each kernel set."""
    import tinygrad_cnn as tc
    import tinygrad_cnn.nn.functional as F
    from tinygrad_cnn import kernels, optim
    losses = {}
    for name in ("fast", "reference"):
        with kernels.use(name):
            tc.manual_seed(0)
            model = make_model()
            opt = optim.Adam(model.parameters(), lr=lr)
            losses[name] = []
            for x, y in zip(images, labels):
                loss = F.cross_entropy(model(tc.Tensor(x)), tc.Tensor(y))
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses[name].append(loss.item())
    return losses


@pytest.fixture
def train_both_ways():
    return adam_losses_both_ways
