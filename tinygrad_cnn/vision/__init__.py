"""torchvision's names for this project: ``tinygrad_cnn.vision.datasets``
(MNIST, FashionMNIST), ``tinygrad_cnn.vision.transforms`` and
``tinygrad_cnn.vision.utils`` (``make_grid``, ``save_image``).

    from tinygrad_cnn.vision import datasets, transforms
"""
from . import datasets, transforms, utils  # noqa: F401

__all__ = ["datasets", "transforms", "utils"]
