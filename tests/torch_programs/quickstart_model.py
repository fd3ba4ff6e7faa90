"""Build a model (Flatten + Sequential), inspect it, train and test it, save and load its state_dict."""
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

device = "cuda" if torch.cuda.is_available() else "cpu"
print(f"Using {device} device")


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 64),
            nn.ReLU(),
            nn.Linear(64, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        return self.linear_relu_stack(x)


def numpy_init(model, seed):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for param in model.parameters():
            bound = 1 / np.sqrt(param.shape[-1])
            param.copy_(torch.from_numpy(rng.uniform(-bound, bound, tuple(param.shape)).astype(np.float32)))


model = NeuralNetwork().to(device)
numpy_init(model, 0)
print(model)
print("Model structure:", type(model).__name__)
for name, param in model.named_parameters():
    print(f"Layer: {name} | Size: {param.size()} | requires_grad: {param.requires_grad}")

rng = np.random.default_rng(1)
X = torch.from_numpy(rng.random((1, 28, 28), dtype=np.float32))
logits = model(X)
pred_probab = nn.Softmax(dim=1)(logits)
y_pred = pred_probab.argmax(1)
print(f"Predicted class: {y_pred}")
print("probabilities sum to {:.4f}; max {:.4f}".format(pred_probab.sum().item(), pred_probab.max().item()))

templates = rng.random((10, 28, 28), dtype=np.float32)
train_labels = rng.integers(0, 10, 256)
test_labels = rng.integers(0, 10, 64)
train_x = templates[train_labels] + 0.3 * rng.standard_normal((256, 28, 28)).astype(np.float32)
test_x = templates[test_labels] + 0.3 * rng.standard_normal((64, 28, 28)).astype(np.float32)
training_data = TensorDataset(torch.from_numpy(train_x), torch.from_numpy(train_labels))
test_data = TensorDataset(torch.from_numpy(test_x), torch.from_numpy(test_labels))

batch_size = 32
train_dataloader = DataLoader(training_data, batch_size=batch_size)
test_dataloader = DataLoader(test_data, batch_size=batch_size)
for X, y in test_dataloader:
    print(f"Shape of X [N, H, W]: {X.shape}")
    print(f"Shape of y: {y.shape} {y.dtype}")
    break

loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


def train_one_epoch(dataloader, model, loss_fn, optimizer):
    size = len(dataloader.dataset)
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if batch % 4 == 0:
            seen = batch * batch_size + len(X)
            print(f"  loss {loss.item():.5f} after {seen:>3d} of {size} samples")


def evaluate(dataloader, model, loss_fn):
    model.eval()
    num_batches = len(dataloader)
    total_loss, correct = 0.0, 0
    with torch.no_grad():
        for X, y in dataloader:
            pred = model(X)
            total_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    total_loss /= num_batches
    correct /= len(dataloader.dataset)
    print(f"  test accuracy {100 * correct:.1f}%, mean loss {total_loss:.5f}")
    return correct


for t in range(3):
    print(f"Epoch {t + 1}")
    train_one_epoch(train_dataloader, model, loss_fn, optimizer)
    evaluate(test_dataloader, model, loss_fn)
print("Done!")

torch.save(model.state_dict(), "model_weights.pth")
print("state_dict keys:", list(model.state_dict().keys()))
restored = NeuralNetwork()
restored.load_state_dict(torch.load("model_weights.pth", weights_only=True))
restored.eval()
with torch.no_grad():
    same = torch.equal(restored(torch.from_numpy(test_x)), model(torch.from_numpy(test_x)))
print("restored model agrees:", same)
print("restored accuracy:", evaluate(test_dataloader, restored, loss_fn))
