"""What ``load`` raises for a file it cannot or will not read."""
from __future__ import annotations

import pickle

__all__ = ["CheckpointError", "WeightsOnlyError"]


class CheckpointError(RuntimeError, ValueError):
    """A file that is not a readable checkpoint: truncated, corrupt, of a format
    tinygrad_cnn does not read, or holding what it cannot rebuild.

    A RuntimeError, as PyTorch raises for a damaged file, and a ValueError,
    which is what tinygrad_cnn raised before."""


class WeightsOnlyError(CheckpointError, pickle.UnpicklingError):
    """A pickle that names a global the weights-only loader does not allow
    (a whole model, an arbitrary class, or a malicious payload). An
    ``UnpicklingError``, as PyTorch's ``torch.load`` raises for the same file."""
