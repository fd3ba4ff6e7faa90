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
import os
import runpy
import sys
import tempfile
import traceback

from tinygrad_cnn.torch_alias import ALIASES, TorchAlias, install  # noqa: E402,F401  (the package's own alias)


def run_one(program: str) -> tuple[int, str, str]:
    """Run ``program`` as __main__ in a fresh empty working directory; return (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    status = 0
    old_cwd, old_argv = os.getcwd(), sys.argv
    with tempfile.TemporaryDirectory(prefix="torch-program-") as workdir:
        os.chdir(workdir)
        sys.argv = [program]
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
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
    return status, out.getvalue(), err.getvalue()


def run_batch(outdir: str, programs: list[str]) -> None:
    os.makedirs(outdir, exist_ok=True)
    for program in programs:
        status, out, err = run_one(os.path.abspath(program))
        name = os.path.splitext(os.path.basename(program))[0]
        for suffix, text in (("out", out), ("err", err), ("rc", str(status))):
            with open(os.path.join(outdir, f"{name}.{suffix}"), "w") as f:
                f.write(text)


def main(argv: list[str]) -> None:
    if argv[:1] == ["--batch"]:
        argv = argv[1:]
        if argv[:1] == ["--real"]:
            argv = argv[1:]
        else:
            install()
        run_batch(argv[0], argv[1:])
        return
    install()
    program = argv[0]
    sys.argv = argv
    runpy.run_path(program, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
