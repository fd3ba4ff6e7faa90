"""One seeded random generator for the whole library (initialisation,
dropout, shuffling), so that ``manual_seed`` makes a run reproducible."""
import numpy as np

from .types import device as _device

_generator = np.random.default_rng()
_seed_hooks = []


class Generator:
    """PyTorch's ``torch.Generator``: a seedable stream of random numbers to
    hand to ``random_split``, ``DataLoader``, ``randperm``, ``rand``/``randn``/
    ``randint`` and ``nn.init`` (``generator=``), backed by a numpy Generator.

        split = random_split(data, [0.8, 0.2], generator=torch.Generator().manual_seed(42))

    The same seed gives other numbers than PyTorch's generator does.
    """

    def __init__(self, device="cpu"):
        self._seed = int(np.random.SeedSequence().entropy % (1 << 63))
        self._rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> "Generator":
        """Reseed; returns the generator itself, as PyTorch's."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"Generator.manual_seed: seed must be an int, got {type(seed).__name__}")
        self._seed = int(seed)
        self._rng = np.random.default_rng(self._seed)
        return self

    def initial_seed(self) -> int:
        return self._seed

    def seed(self) -> int:
        """Reseed from fresh entropy; returns the new seed."""
        return self.manual_seed(int(np.random.SeedSequence().entropy % (1 << 63))).initial_seed()

    @property
    def device(self):
        return _device("cpu")

    @property
    def numpy(self) -> np.random.Generator:
        """The numpy Generator that draws the numbers."""
        return self._rng

    def __repr__(self):
        import sys
        # A PyTorch program run through tinygrad_cnn.torch_alias prints what it prints under PyTorch;
        # anywhere else (a notebook's `tc.manual_seed(0)`) the name says whose generator it is.
        if sys.modules.get("torch") is sys.modules.get("tinygrad_cnn"):
            return f"<torch._C.Generator object at {hex(id(self))}>"
        return f"<tinygrad_cnn.Generator object at {hex(id(self))}>"


class _DefaultGenerator(Generator):
    """``torch.default_generator``: the library's generator, which
    ``manual_seed`` reseeds."""

    def __init__(self):
        self._seed = None

    def manual_seed(self, seed: int) -> "Generator":
        manual_seed(seed)
        return self

    def initial_seed(self) -> int:
        return self._seed

    @property
    def _rng(self):
        return _generator


default_generator = _DefaultGenerator()


def manual_seed(seed: int) -> Generator:
    """Reseed initialisation, dropout and data shuffling; returns
    ``default_generator``, as PyTorch's."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
    _generator = np.random.default_rng(seed)
    default_generator._seed = int(seed)
    for hook in _seed_hooks:
        hook(seed)
    return default_generator


def initial_seed() -> int | None:
    """The seed last given to ``manual_seed`` (None before any)."""
    return default_generator.initial_seed()


def generator() -> np.random.Generator:
    return _generator


def numpy_generator(generator=None, who: str = "random", default=None) -> np.random.Generator:
    """The numpy Generator behind a ``generator=`` argument: a ``Generator``'s,
    a numpy Generator itself, or for None ``default`` (the library's)."""
    if generator is None:
        return _generator if default is None else default
    if isinstance(generator, Generator):
        return generator._rng
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"{who}: generator must be None, a tinygrad_cnn.Generator or a numpy.random.Generator, "
                    f"got {type(generator).__name__}")


def on_seed(hook) -> None:
    """Let another module (the data loader) follow ``manual_seed``."""
    _seed_hooks.append(hook)
