import numpy as np
import torch


class ToTensor:
    def __call__(self, pic):
        array = np.asarray(pic)
        if array.ndim == 2:
            array = array[:, :, None]
        tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))
        if tensor.dtype == torch.uint8:
            return tensor.to(dtype=torch.get_default_dtype()).div(255)
        return tensor

    def __repr__(self):
        return "ToTensor()"


class Lambda:
    def __init__(self, lambd):
        self.lambd = lambd

    def __call__(self, value):
        return self.lambd(value)


class Compose:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, value):
        for t in self.transforms:
            value = t(value)
        return value


class Normalize:
    def __init__(self, mean, std):
        self.mean, self.std = mean, std

    def __call__(self, tensor):
        mean = torch.as_tensor(self.mean, dtype=tensor.dtype).view(-1, 1, 1)
        std = torch.as_tensor(self.std, dtype=tensor.dtype).view(-1, 1, 1)
        return (tensor - mean) / std
