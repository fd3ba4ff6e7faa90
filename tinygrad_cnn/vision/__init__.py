"""torchvision's names for this project: ``tinygrad_cnn.vision.datasets``
(MNIST, FashionMNIST) and ``tinygrad_cnn.vision.transforms``.

    from tinygrad_cnn.vision import datasets, transforms
"""
from . import datasets, transforms  # noqa: F401

__all__ = ["datasets", "transforms"]
