"""torchvision.utils' picture helpers: ``make_grid`` lays a batch of images
out as one image (what the tutorials pass to ``plt.imshow``); ``save_image``
writes one (with matplotlib)."""
import math

import numpy as np

from .._atomic import atomic_write
from ..tensor import Tensor

__all__ = ["make_grid", "save_image"]


def make_grid(tensor, nrow: int = 8, padding: int = 2, normalize: bool = False, value_range=None,
              scale_each: bool = False, pad_value: float = 0.0) -> Tensor:
    """Images (B, C, H, W) (or a list of (C, H, W)) -> one (3, H', W') image
    with ``nrow`` images per row and ``padding`` pixels of ``pad_value``
    between them; one-channel images are repeated to three channels, as in
    torchvision. ``normalize`` rescales to [0, 1] (by ``value_range`` or by
    the min and max, per image with ``scale_each``)."""
    if isinstance(tensor, (list, tuple)):
        images = np.stack([np.asarray(t.data if isinstance(t, Tensor) else t) for t in tensor])
    else:
        images = np.array(tensor.data if isinstance(tensor, Tensor) else tensor)
    if images.ndim == 2:
        images = images[None]
    if images.ndim == 3:
        images = images[None] if images.shape[0] in (1, 3) else images[:, None]
    if images.ndim != 4:
        raise ValueError(f"make_grid: expects images (B, C, H, W), got shape {images.shape}")
    if images.shape[1] == 1:
        images = np.repeat(images, 3, axis=1)
    images = images.astype(np.float32, copy=False)
    if normalize:
        images = images.copy()
        parts = images if scale_each else images[None]
        for part in parts:
            low, high = value_range if value_range is not None else (part.min(), part.max())
            np.clip(part, low, high, out=part)
            part -= low
            part /= max(high - low, 1e-5)
    count, channels, height, width = images.shape
    columns = min(nrow, count)
    rows = int(math.ceil(count / columns))
    cell_h, cell_w = height + padding, width + padding
    grid = np.full((channels, rows * cell_h + padding, columns * cell_w + padding), pad_value, dtype=np.float32)
    for index in range(count):
        row, column = divmod(index, columns)
        top, left = row * cell_h + padding, column * cell_w + padding
        grid[:, top:top + height, left:left + width] = images[index]
    return Tensor(grid)


def save_image(tensor, fp, nrow: int = 8, padding: int = 2, **kwargs) -> None:
    """Write images as one PNG (through ``make_grid``; values in [0, 1]),
    atomically. Needs matplotlib."""
    try:
        import matplotlib.image
    except ImportError:
        raise ImportError("save_image needs matplotlib: pip install matplotlib "
                          "(or, in a checkout, pip install -e '.[plot]')") from None
    grid = make_grid(tensor, nrow=nrow, padding=padding, **kwargs).data
    picture = np.clip(grid.transpose(1, 2, 0), 0.0, 1.0)
    if hasattr(fp, "write"):
        matplotlib.image.imsave(fp, picture, format="png")
        return
    with atomic_write(fp) as file:
        matplotlib.image.imsave(file, picture, format="png")
