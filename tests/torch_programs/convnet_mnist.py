"""The ConvNet notebook on MNIST, run for a few steps on a tiny synthetic MNIST written in IDX format."""
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torchvision
import torchvision.transforms as transforms


def write_idx(path, array):
    """IDX: big-endian magic (0x08 = uint8, then the number of dims), the dims as int32, the bytes."""
    with open(path, "wb") as f:
        f.write(struct.pack(">I", 0x0800 | array.ndim))
        f.write(struct.pack(">" + "I" * array.ndim, *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def write_fake_mnist(root, n_train=300, n_test=200, seed=0):
    rng = np.random.default_rng(seed)
    strokes = rng.random((10, 28, 28)) < 0.15          # one blotchy "digit" per class
    raw = os.path.join(root, "MNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    for prefix, count in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, count).astype(np.uint8)
        noise = rng.random((count, 28, 28)) < 0.08
        images = np.where(strokes[labels] ^ noise, rng.integers(160, 256, (count, 28, 28)), 0)
        write_idx(os.path.join(raw, f"{prefix}-images-idx3-ubyte"), images)
        write_idx(os.path.join(raw, f"{prefix}-labels-idx1-ubyte"), labels)


DATA_PATH = "./mnist-data"
MODEL_STORE_PATH = "./models/"
write_fake_mnist(DATA_PATH)
os.makedirs(MODEL_STORE_PATH, exist_ok=True)

# Hyperparameters
num_epochs = 2
num_classes = 10
batch_size = 100
learning_rate = 0.001
drop_prob = 0.0   # the notebook uses 0.5; dropout masks come from the framework's RNG, so keep them out

trans = transforms.ToTensor()
train_dataset = torchvision.datasets.MNIST(root=DATA_PATH, train=True, transform=trans, download=False)
test_dataset = torchvision.datasets.MNIST(root=DATA_PATH, train=False, transform=trans, download=False)
print(len(train_dataset), len(test_dataset))
image, label = train_dataset[0]
print(image.shape, image.dtype, type(label).__name__, label)
print("pixel range {:.4f} {:.4f}".format(image.min().item(), image.max().item()))

train_loader = torch.utils.data.DataLoader(dataset=train_dataset, batch_size=batch_size, shuffle=False)
test_loader = torch.utils.data.DataLoader(dataset=test_dataset, batch_size=batch_size, shuffle=False)


class ConvNet(nn.Module):
    def __init__(self):
        super(ConvNet, self).__init__()
        self.layer1 = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=5, stride=1, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2))
        self.layer2 = nn.Sequential(
            nn.Conv2d(32, 64, kernel_size=5, stride=1, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2))
        self.drop_out = nn.Dropout(drop_prob)
        self.fc1 = nn.Linear(7 * 7 * 64, 1000)
        self.fc2 = nn.Linear(1000, 10)

    def forward(self, x):
        out = self.layer1(x)
        out = self.layer2(out)
        out = out.reshape(out.size(0), -1)
        out = self.drop_out(out)
        out = self.fc1(out)
        out = self.fc2(out)
        return out


model = ConvNet()
rng = np.random.default_rng(123)
with torch.no_grad():
    for p in model.parameters():
        bound = 1 / np.sqrt(p[0].numel()) if p.dim() > 1 else 0.01
        p.copy_(torch.from_numpy(rng.uniform(-bound, bound, tuple(p.shape)).astype(np.float32)))
print(model)

criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)

total_step = len(train_loader)
loss_list = []
acc_list = []
for epoch in range(num_epochs):
    for i, (images, labels) in enumerate(train_loader):
        outputs = model(images)
        loss = criterion(outputs, labels)
        loss_list.append(loss.item())

        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

        total = labels.size(0)
        _, predicted = torch.max(outputs.data, 1)
        correct = (predicted == labels).sum().item()
        acc_list.append(correct / total)

        if (i + 1) % 1 == 0:
            print('Epoch [{}/{}], Step [{}/{}], Loss: {:.4f}, Accuracy: {:.2f}%'
                  .format(epoch + 1, num_epochs, i + 1, total_step, loss.item(), (correct / total) * 100))

model.eval()
with torch.no_grad():
    correct = 0
    total = 0
    for images, labels in test_loader:
        outputs = model(images)
        _, predicted = torch.max(outputs.data, 1)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()
    print('Test Accuracy of the model on the {} test images: {} %'.format(total, (correct / total) * 100))

torch.save(model.state_dict(), MODEL_STORE_PATH + 'conv_net_model.ckpt')
print("saved:", os.path.exists(MODEL_STORE_PATH + 'conv_net_model.ckpt'))
print("losses logged:", len(loss_list), "mean batch accuracy {:.4f}".format(sum(acc_list) / len(acc_list)))
