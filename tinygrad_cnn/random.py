"""One seeded random generator for the whole library (initialisation,
dropout, shuffling), so that ``manual_seed`` makes a run reproducible."""
import numpy as np

_generator = np.random.default_rng()
_seed_hooks = []


def manual_seed(seed: int) -> None:
    """Reseed initialisation, dropout and data shuffling."""
    global _generator
    _generator = np.random.default_rng(seed)
    for hook in _seed_hooks:
        hook(seed)


def generator() -> np.random.Generator:
    return _generator


def on_seed(hook) -> None:
    """Let another module (the data loader) follow ``manual_seed``."""
    _seed_hooks.append(hook)
