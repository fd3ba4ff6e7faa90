"""Run PyTorch programs on tinygrad_cnn by redirecting their imports: ``torch`` -> ``tinygrad_cnn``,
``torchvision`` -> ``tinygrad_cnn.vision`` (so ``import torch.nn as nn`` imports tinygrad_cnn.nn).

    python tests/torch_alias.py PROGRAM.py [args]              # one program, aliased
    python tests/torch_alias.py --batch OUTDIR PROGRAM.py ...  # many programs, aliased, outputs to OUTDIR
    python tests/torch_alias.py --batch --real OUTDIR ...      # the same under real torch

Batch mode runs each program in its own empty working directory inside one interpreter (so the
framework is imported once) and writes NAME.out, NAME.err and NAME.rc to OUTDIR.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import runpy
import sys
import tempfile
import traceback

from tinygrad_cnn.torch_alias import ALIASES, TorchAlias, install  # noqa: E402,F401  (the package's own alias)


@contextlib.contextmanager
def counting_optimizer_steps(out: io.StringIO, real: bool):
    """Within the block, every optimizer step appends to the yielded list the number of complete
    lines ``out`` held when the step began: line i was printed after ``bisect_right(list, i)`` steps.
    Every Optimizer class that defines ``step`` is wrapped (a subclass calling its parent's step
    counts once)."""
    if real:
        import torch.optim as optim_module
    else:
        import tinygrad_cnn.optim as optim_module
    marks: list[int] = []
    originals = {}

    def counted(fn):
        def step(self, *args, **kwargs):
            if self.__dict__.get("_counting_step"):
                return fn(self, *args, **kwargs)
            marks.append(out.getvalue().count("\n"))
            self.__dict__["_counting_step"] = True
            try:
                return fn(self, *args, **kwargs)
            finally:
                self.__dict__["_counting_step"] = False
        return step

    classes = [optim_module.Optimizer]
    while classes:
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        if "step" in cls.__dict__ and cls not in originals:
            originals[cls] = cls.__dict__["step"]
            cls.step = counted(originals[cls])
    try:
        yield marks
    finally:
        for cls, fn in originals.items():
            cls.step = fn


def run_one(program: str, real: bool = False) -> tuple[int, str, str, list]:
    """Run ``program`` as __main__ in a fresh empty working directory; return (status, stdout,
    stderr, steps): ``steps`` as :func:`counting_optimizer_steps` records them."""
    out, err = io.StringIO(), io.StringIO()
    status = 0
    old_cwd, old_argv = os.getcwd(), sys.argv
    with tempfile.TemporaryDirectory(prefix="torch-program-") as workdir:
        os.chdir(workdir)
        sys.argv = [program]
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                    counting_optimizer_steps(out, real) as steps:
                try:
                    runpy.run_path(program, run_name="__main__")
                except SystemExit as stop:
                    status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
                except BaseException:   # noqa: BLE001  (any failure is the program's result)
                    traceback.print_exc()
                    status = 1
        finally:
            os.chdir(old_cwd)
            sys.argv = old_argv
    return status, out.getvalue(), err.getvalue(), list(steps)


def run_batch(outdir: str, programs: list[str], real: bool = False) -> None:
    os.makedirs(outdir, exist_ok=True)
    for program in programs:
        status, out, err, steps = run_one(os.path.abspath(program), real)
        name = os.path.splitext(os.path.basename(program))[0]
        for suffix, text in (("out", out), ("err", err), ("rc", str(status)), ("steps", json.dumps(steps))):
            with open(os.path.join(outdir, f"{name}.{suffix}"), "w") as f:
                f.write(text)


def main(argv: list[str]) -> None:
    if argv[:1] == ["--batch"]:
        argv = argv[1:]
        real = argv[:1] == ["--real"]
        if real:
            argv = argv[1:]
        else:
            install()
        run_batch(argv[0], argv[1:], real)
        return
    install()
    program = argv[0]
    sys.argv = argv
    runpy.run_path(program, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
