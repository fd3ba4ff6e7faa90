"""A stand-in for the few torchvision pieces the programs use, for running them under real torch
where torchvision cannot be installed (no wheel matches the CPU torch build here). It follows
torchvision 0.2x's documented behaviour for exactly these calls: MNIST reads the raw IDX files
under root/MNIST/raw and yields (image, int label); ToTensor turns an HxW or HxWxC uint8 image into
a CxHxW float tensor scaled to [0, 1]. It is used only on the real-torch side of the comparison."""
from . import datasets, transforms  # noqa: F401
