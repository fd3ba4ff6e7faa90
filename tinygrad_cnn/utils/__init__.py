"""PyTorch's ``torch.utils`` namespace: ``tinygrad_cnn.utils.data``."""
from . import data  # noqa: F401
