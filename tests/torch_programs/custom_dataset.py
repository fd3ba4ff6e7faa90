"""A custom Dataset with transform/target_transform (ToTensor, a one-hot Lambda with scatter_), and DataLoader batching."""
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import Lambda, ToTensor

labels_map = {0: "T-Shirt", 1: "Trouser", 2: "Pullover", 3: "Dress", 4: "Coat",
              5: "Sandal", 6: "Shirt", 7: "Sneaker", 8: "Bag", 9: "Ankle Boot"}


class ArrayImageDataset(Dataset):
    """Images kept as uint8 HxW arrays with integer labels, as a file-backed dataset would load them."""

    def __init__(self, images, labels, transform=None, target_transform=None):
        self.images = images
        self.labels = labels
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        image = self.images[idx]
        label = int(self.labels[idx])
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label


rng = np.random.default_rng(8)
images = rng.integers(0, 256, (10, 28, 28), dtype=np.uint8)
labels = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3])

plain = ArrayImageDataset(images, labels)
print(len(plain), type(plain[0][0]).__name__, plain[0][1], labels_map[plain[0][1]])

ds = ArrayImageDataset(images, labels, transform=ToTensor(),
                       target_transform=Lambda(lambda y: torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1)))
image, target = ds[2]
print(image.shape, image.dtype)
print("pixel sum {:.4f}, first pixel {:.4f} = {}/255".format(image.sum().item(), image[0, 0, 0].item(), images[2, 0, 0]))
print("one-hot", target.tolist(), target.dtype)

loader = DataLoader(ds, batch_size=4, shuffle=False)
print("batches", len(loader))
for batch, (X, y) in enumerate(loader):
    print(batch, tuple(X.shape), tuple(y.shape), y.argmax(1).tolist(), "mean {:.4f}".format(X.mean().item()))

int_loader = DataLoader(plain, batch_size=3, drop_last=True)
first_images, first_labels = next(iter(int_loader))
print(len(int_loader), first_images.shape, first_images.dtype, first_labels.tolist(), first_labels.dtype)
