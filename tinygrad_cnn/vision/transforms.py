"""torchvision's image transforms (the subset CNN tutorials use), on numpy.

    from tinygrad_cnn.vision import transforms
    augment = transforms.Compose([transforms.RandomCrop(28, padding=4),
                                  transforms.RandomHorizontalFlip(),
                                  transforms.ToTensor(),
                                  transforms.Normalize((0.1307,), (0.3081,))])

Images before ``ToTensor`` are numpy arrays (H, W) or (H, W, C), where
torchvision has PIL images (a PIL image is accepted too and read with
``numpy.asarray``); ``ToTensor`` makes a float32 Tensor (C, H, W); the
transforms after it take Tensors (..., C, H, W). The random transforms draw
from the library generator, so ``tinygrad_cnn.manual_seed`` fixes them.

Batches: every transform here is written once, for a whole batch (a leading
batch axis), and applied to a single item as a batch of one. A DataLoader over
an in-memory dataset whose transform is made only of these classes transforms
each batch at once (:func:`apply_batched`); random parameters are still drawn
per item, and in the same order as item by item, so both give the same values.
Each random transform draws a fixed number of uniforms per item from
``generator().random``, which is what makes the two orders agree.
"""
import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..random import generator
from ..tensor import Tensor

_IMAGE, _TENSOR = "image", "tensor"   # batch layouts: (B, H, W[, C]) and (B, ..., H, W)


def _spatial_axes(batch: np.ndarray, layout: str) -> tuple:
    return (1, 2) if layout == _IMAGE else (batch.ndim - 2, batch.ndim - 1)


class Transform:
    """Base of the batchable transforms: ``_apply(batch, layout, uniforms)``
    transforms a batch; ``draws`` uniforms in [0, 1) are drawn per item."""

    draws = 0

    def __call__(self, pic):
        if isinstance(pic, Tensor):
            batch, layout = pic.data[None], _TENSOR
        else:
            batch, layout = self._image_batch(pic)
        uniforms = generator().random((1, self.draws)) if self.draws else None
        result, layout = self._apply(batch, layout, uniforms)
        return Tensor(result[0]) if layout == _TENSOR else result[0]

    def _image_batch(self, pic):
        image = np.asarray(pic)
        if image.ndim not in (2, 3):
            raise ValueError(f"{type(self).__name__}: an image must be (H, W) or (H, W, C), "
                             f"got shape {tuple(image.shape)}")
        return image[None], _IMAGE

    def _apply(self, batch: np.ndarray, layout: str, uniforms):
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Compose:
    """Apply ``transforms`` one after the other."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for transform in self.transforms:
            img = transform(img)
        return img

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}("]
        lines += [f"    {transform}" for transform in self.transforms]
        return "\n".join(lines) + "\n)"


class ToTensor(Transform):
    """Image (H, W) or (H, W, C) -> Tensor (C, H, W).

    uint8 images become float32 in [0, 1] (divided by 255); images of other
    dtypes keep their dtype and values, as torchvision does.
    """

    def __call__(self, pic):
        if isinstance(pic, Tensor):
            raise TypeError("ToTensor: pic should be an image (numpy array or PIL Image), "
                            "got a Tensor")
        return super().__call__(pic)

    def _apply(self, batch, layout, uniforms):
        if layout != _IMAGE:
            raise TypeError("ToTensor: pic should be an image (numpy array or PIL Image), "
                            "got a Tensor")
        if batch.ndim == 3:
            batch = batch[..., None]
        channels_first = batch.transpose(0, 3, 1, 2)
        if channels_first.dtype == np.uint8:
            # Division (not a multiply by 1/255): the same float32 values as torchvision.
            return np.divide(channels_first, np.float32(255), dtype=np.float32), _TENSOR
        return np.ascontiguousarray(channels_first), _TENSOR


class Normalize(Transform):
    """``(x - mean[c]) / std[c]`` per channel of a float Tensor (..., C, H, W).

    Args:
        mean, std: one value per channel (a number or a sequence of 1 or C values).
        inplace: overwrite the input Tensor's array instead of making a new one.
    """

    def __init__(self, mean, std, inplace: bool = False):
        self.mean = mean
        self.std = std
        self.inplace = inplace

    def __call__(self, tensor):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"Normalize: input should be a Tensor (C, H, W) (use ToTensor "
                            f"first), got {type(tensor).__name__}")
        if not self.inplace:
            return super().__call__(tensor)
        self._normalize(tensor.data, tensor.data)
        return tensor

    def _statistics(self, dtype, channels: int) -> tuple:
        mean = np.asarray(self.mean, dtype=dtype).reshape(-1)
        std = np.asarray(self.std, dtype=dtype).reshape(-1)
        if (std == 0).any():
            raise ValueError(f"Normalize: std evaluated to zero after conversion to {dtype}, "
                             f"leading to division by zero (std={self.std})")
        for name, values in (("mean", mean), ("std", std)):
            if values.size not in (1, channels):
                raise ValueError(f"Normalize: {name} has {values.size} values but the "
                                 f"tensor has {channels} channels")
        return mean[:, None, None], std[:, None, None]

    def _normalize(self, array: np.ndarray, out=None) -> np.ndarray:
        if array.dtype.kind != "f":
            raise TypeError(f"Normalize: input tensor should be a float tensor, got {array.dtype}")
        if array.ndim < 3:
            raise ValueError(f"Normalize: expected a tensor image of shape (..., C, H, W), "
                             f"got shape {tuple(array.shape)}")
        mean, std = self._statistics(array.dtype, array.shape[-3])
        result = np.subtract(array, mean, out=out)
        return np.divide(result, std, out=result)

    def _apply(self, batch, layout, uniforms):
        if layout != _TENSOR:
            raise TypeError("Normalize: input should be a Tensor (C, H, W) (use ToTensor "
                            "first), got an image")
        return self._normalize(batch), _TENSOR

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


def _pair(value, name: str, who: str) -> tuple:
    if isinstance(value, numbers.Number):
        return int(value), int(value)
    value = tuple(value)
    if len(value) == 1:
        return int(value[0]), int(value[0])
    if len(value) != 2:
        raise ValueError(f"{who}: {name} should be an int or a sequence of 1 or 2 ints, "
                         f"got {value}")
    return int(value[0]), int(value[1])


def _padding_sides(padding, who: str) -> tuple:
    """torchvision's padding argument -> (left, top, right, bottom)."""
    if isinstance(padding, numbers.Number):
        sides = (padding,) * 4
    else:
        padding = tuple(padding)
        if len(padding) == 1:
            sides = padding * 4
        elif len(padding) == 2:       # (left/right, top/bottom)
            sides = (padding[0], padding[1], padding[0], padding[1])
        elif len(padding) == 4:       # (left, top, right, bottom)
            sides = padding
        else:
            raise ValueError(f"{who}: padding must be an int or a 1, 2, or 4 element tuple, "
                             f"not a {len(padding)} element tuple")
    if any(int(side) != side or side < 0 for side in sides):
        raise ValueError(f"{who}: padding must be non-negative ints, got {padding}")
    return tuple(int(side) for side in sides)


_PADDING_MODES = ("constant", "edge", "reflect", "symmetric")


def _pad(batch, layout, sides, fill, padding_mode):
    """Pad the spatial axes of ``batch`` by (left, top, right, bottom)."""
    left, top, right, bottom = sides
    h_axis, w_axis = _spatial_axes(batch, layout)
    widths = [(0, 0)] * batch.ndim
    widths[h_axis], widths[w_axis] = (top, bottom), (left, right)
    if padding_mode != "constant":
        return np.pad(batch, widths, mode=padding_mode)
    shape = list(batch.shape)
    shape[h_axis] += top + bottom
    shape[w_axis] += left + right
    padded = np.empty(shape, dtype=batch.dtype)
    fill = np.asarray(fill, dtype=batch.dtype)
    if fill.ndim == 1 and layout == _TENSOR:
        fill = fill[:, None, None]   # one value per channel of (..., C, H, W)
    padded[...] = fill              # (H, W, C) images broadcast a per-channel fill directly
    interior = [slice(None)] * batch.ndim
    interior[h_axis] = slice(top, top + batch.shape[h_axis])
    interior[w_axis] = slice(left, left + batch.shape[w_axis])
    padded[tuple(interior)] = batch
    return padded


class RandomCrop(Transform):
    """Crop a random ``size`` window, after optional padding.

    Args:
        size: ``(height, width)`` of the crop, or one int for a square.
        padding: added before cropping: an int for every border, ``(left/right,
            top/bottom)``, or ``(left, top, right, bottom)``.
        pad_if_needed: pad an image smaller than ``size`` (by the difference,
            on both sides of that axis) instead of raising.
        fill: the value of constant padding (one per channel allowed).
        padding_mode: 'constant', 'edge', 'reflect' (mirror without repeating the
            edge) or 'symmetric' (mirror repeating it).

    The window's top-left corner is uniform over every position that fits.
    """

    draws = 2

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0,
                 padding_mode: str = "constant"):
        self.size = _pair(size, "size", "RandomCrop")
        if min(self.size) < 1:
            raise ValueError(f"RandomCrop: size must be positive, got {size}")
        self._sides = None if padding is None else _padding_sides(padding, "RandomCrop")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"RandomCrop: padding_mode should be one of "
                             f"{', '.join(_PADDING_MODES)}, got {padding_mode!r}")
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode

    def _apply(self, batch, layout, uniforms):
        if self._sides is not None and any(self._sides):
            batch = _pad(batch, layout, self._sides, self.fill, self.padding_mode)
        h_axis, w_axis = _spatial_axes(batch, layout)
        crop_h, crop_w = self.size
        if self.pad_if_needed and batch.shape[w_axis] < crop_w:
            extra = crop_w - batch.shape[w_axis]
            batch = _pad(batch, layout, (extra, 0, extra, 0), self.fill, self.padding_mode)
        if self.pad_if_needed and batch.shape[h_axis] < crop_h:
            extra = crop_h - batch.shape[h_axis]
            batch = _pad(batch, layout, (0, extra, 0, extra), self.fill, self.padding_mode)
        height, width = batch.shape[h_axis], batch.shape[w_axis]
        if height < crop_h or width < crop_w:
            raise ValueError(f"RandomCrop: required crop size {(crop_h, crop_w)} is larger than "
                             f"input image size {(height, width)}")
        # floor(u * count) is uniform over 0..count-1; the minimum guards the one
        # u so close to 1 that u * count rounds up to count.
        tops = np.minimum(uniforms[:, 0] * (height - crop_h + 1), height - crop_h).astype(np.intp)
        lefts = np.minimum(uniforms[:, 1] * (width - crop_w + 1), width - crop_w).astype(np.intp)
        # Every crop position as a view; one fancy index copies the chosen windows.
        windows = sliding_window_view(batch, (crop_h, crop_w), axis=(h_axis, w_axis))
        items = np.arange(len(batch))
        if layout == _TENSOR:   # windows (B, ..., nh, nw, crop_h, crop_w)
            return windows[items, ..., tops, lefts, :, :], layout
        crops = windows[items, tops, lefts]   # (B, [C,] crop_h, crop_w)
        if crops.ndim == 4:
            crops = np.ascontiguousarray(np.moveaxis(crops, 1, -1))
        return crops, layout

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, padding={self.padding})"


class CenterCrop(Transform):
    """Crop the central ``size`` window (an image smaller than ``size`` is
    first padded with zeros, as in torchvision). When the margin is odd the
    extra row/column is cut from the top/left's opposite side (torchvision's
    rounding: top = round((H - h) / 2))."""

    def __init__(self, size):
        self.size = _pair(size, "size", "CenterCrop")
        if min(self.size) < 1:
            raise ValueError(f"CenterCrop: size must be positive, got {size}")

    def _apply(self, batch, layout, uniforms):
        h_axis, w_axis = _spatial_axes(batch, layout)
        crop_h, crop_w = self.size
        height, width = batch.shape[h_axis], batch.shape[w_axis]
        if crop_h > height or crop_w > width:
            pad_h, pad_w = max(crop_h - height, 0), max(crop_w - width, 0)
            batch = _pad(batch, layout, (pad_w // 2, pad_h // 2, (pad_w + 1) // 2, (pad_h + 1) // 2), 0,
                         "constant")
            height, width = batch.shape[h_axis], batch.shape[w_axis]
        top, left = int(round((height - crop_h) / 2.0)), int(round((width - crop_w) / 2.0))
        index = [slice(None)] * batch.ndim
        index[h_axis], index[w_axis] = slice(top, top + crop_h), slice(left, left + crop_w)
        return np.ascontiguousarray(batch[tuple(index)]), layout

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size})"


class Pad(Transform):
    """Pad the borders: ``padding`` an int, ``(left/right, top/bottom)`` or
    ``(left, top, right, bottom)``; ``padding_mode`` as in :class:`RandomCrop`."""

    def __init__(self, padding, fill=0, padding_mode: str = "constant"):
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"Pad: padding_mode should be one of {', '.join(_PADDING_MODES)}, "
                             f"got {padding_mode!r}")
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode
        self._sides = _padding_sides(padding, "Pad")

    def _apply(self, batch, layout, uniforms):
        return _pad(batch, layout, self._sides, self.fill, self.padding_mode), layout

    def __repr__(self) -> str:
        return f"{type(self).__name__}(padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode})"


class RandomHorizontalFlip(Transform):
    """Mirror left-right with probability ``p``."""

    draws = 1
    _axis = 1   # index into the spatial axes: width

    def __init__(self, p: float = 0.5):
        if not 0 <= p <= 1:
            raise ValueError(f"{type(self).__name__}: p must be in [0, 1], got {p}")
        self.p = p

    def _apply(self, batch, layout, uniforms):
        axis = _spatial_axes(batch, layout)[self._axis]
        flip = (uniforms[:, 0] < self.p).reshape((-1,) + (1,) * (batch.ndim - 1))
        return np.where(flip, np.flip(batch, axis=axis), batch), layout

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror top-bottom with probability ``p``."""

    _axis = 0


class Lambda:
    """Apply a user function (never batched: the DataLoader then transforms item by item)."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Lambda: argument lambd should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


_BATCHABLE = (ToTensor, Normalize, RandomCrop, CenterCrop, Pad, RandomHorizontalFlip, RandomVerticalFlip)


def _steps(transform):
    if type(transform) is Compose:
        return [step for inner in transform.transforms for step in _steps(inner)]
    return [transform]


def apply_batched(transform, images: np.ndarray):
    """``transform`` applied to every image of a batch at once.

    Args:
        transform: a transform, or a :class:`Compose` of them.
        images: a batch of images (B, H, W) or (B, H, W, C).

    Returns:
        The stacked results, as ``default_collate`` of the per-item results would
        give them (a Tensor (B, C, H, W) after ``ToTensor``, else a Tensor of the
        image batch), drawing the same random numbers in the same order; or
        ``NotImplemented`` when ``transform`` includes something other than the
        transforms of this module (a ``Lambda``, a user class or subclass).
    """
    steps = _steps(transform)
    if not all(type(step) in _BATCHABLE for step in steps) or not len(images):
        return NotImplemented
    total = sum(step.draws for step in steps)
    uniforms = generator().random((len(images), total)) if total else None
    batch, layout, column = images, _IMAGE, 0
    for step in steps:
        own = uniforms[:, column:column + step.draws] if step.draws else None
        batch, layout = step._apply(batch, layout, own)
        column += step.draws
    return Tensor(batch)
