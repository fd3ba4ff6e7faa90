"""Optimizers (``optim.SGD``, ``Adam``, ``AdamW``, ``RMSprop``, ``Adagrad``) and
learning-rate schedules (``optim.lr_scheduler``), as PyTorch's ``torch.optim``."""
from . import lr_scheduler  # noqa: F401
from .optimizer import SGD, Adadelta, Adagrad, Adam, AdamW, Optimizer, RMSprop

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "lr_scheduler"]
