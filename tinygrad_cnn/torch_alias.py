"""Run a PyTorch program on tinygrad_cnn without editing it: its imports of
``torch`` and ``torchvision`` are answered with ``tinygrad_cnn`` and
``tinygrad_cnn.vision`` (``import torch.nn as nn`` gets ``tinygrad_cnn.nn``).

    python -m tinygrad_cnn.torch_alias PROGRAM.py [args]

or, inside Python, ``tinygrad_cnn.torch_alias.install()`` before the program's
imports. What is covered, and the differences, are in the README's "Coming
from PyTorch".
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import runpy
import sys

ALIASES = {"torch": "tinygrad_cnn", "torchvision": "tinygrad_cnn.vision"}

__all__ = ["ALIASES", "TorchAlias", "install", "main"]


class TorchAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers imports of ``torch...``/``torchvision...`` with the tinygrad_cnn module of the same
    dotted tail; ``sys.modules`` then holds the one real module under both names."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ALIASES:
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        root = spec.name.split(".")[0]
        module = importlib.import_module(ALIASES[root] + spec.name[len(root):])
        spec.loader_state = module.__spec__     # the import system overwrites __spec__; put it back
        return module

    def exec_module(self, module):
        if module.__spec__.loader_state is not None:
            module.__spec__ = module.__spec__.loader_state


def install() -> None:
    """Redirect later imports of torch and torchvision (idempotent)."""
    if not any(isinstance(finder, TorchAlias) for finder in sys.meta_path):
        sys.meta_path.insert(0, TorchAlias())


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        raise SystemExit(0 if argv else 2)
    install()
    sys.argv = argv
    runpy.run_path(argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
