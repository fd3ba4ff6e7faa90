"""The examples keep working, and the user-op path of the testing kit both
passes a correct op and catches a wrong one."""
import importlib.util
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.testing import GradcheckError, op_test

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Loaded at collection time: the registry-driven suite (test_op_properties)
# then finds the user's op too, exactly like a built-in one.
custom_op = _load("custom_op")
test_custom_op_property = custom_op.test_softplus


def test_custom_op_values():
    x = tc.Tensor([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(custom_op.softplus(x).numpy(), np.log1p(np.exp([-2.0, 0.0, 3.0])), rtol=1e-6)
    assert "softplus" in tc.registered_ops()


def test_op_test_catches_a_wrong_vjp():
    @tc.defop("wrong_square", spec=tc.Spec(), replace=True)
    def wrong_square(ctx, x):
        return x * x

    @wrong_square.defvjp
    def wrong_square_vjp(ctx, grad_out):
        return (grad_out * ctx.inputs[0],)   # missing the factor 2

    with pytest.raises(GradcheckError, match="wrong_square"):
        op_test("wrong_square")()


def test_autograd_demo_runs():
    result = subprocess.run([sys.executable, str(EXAMPLES / "autograd_demo.py")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "dy/dw = [1. 2. 3.]" in result.stdout


def test_fashion_modern_smoke_run(tmp_path):
    """The BatchNorm CNN example trains with AdamW and OneCycleLR through fit
    and checkpoints the scheduler (on the shipped sample when Fashion-MNIST
    is absent, as in CI)."""
    root = EXAMPLES.parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    out = tmp_path / "fashion"
    result = subprocess.run([sys.executable, str(EXAMPLES / "fashion_modern.py"), "--epochs", "1",
                             "--limit-train", "256", "--limit-test", "200", "--width", "8",
                             "--no-progress", "--out", str(out)],
                            capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "BatchNorm2d" in result.stdout and "AdaptiveAvgPool2d" in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("test accuracy: ")
    state = tc.load(out / "fashion.pt")
    assert state["scheduler"]["total_steps"] == 2          # 256 images, batches of 128
    assert (out / "history.csv").is_file()
