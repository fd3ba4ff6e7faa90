"""PyTorch's "Save and Load the Model" page: weights only, the whole model, and a
training checkpoint with the optimizer (the general-checkpoint recipe)."""
import pickle

import numpy as np
import torch
from torch import nn


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )

    def forward(self, x):
        return self.linear_relu_stack(self.flatten(x))


def numpy_init(model, seed):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for param in model.parameters():
            bound = 1 / np.sqrt(param.shape[-1])
            param.copy_(torch.from_numpy(rng.uniform(-bound, bound, tuple(param.shape)).astype(np.float32)))


rng = np.random.default_rng(2)
X = torch.from_numpy(rng.random((4, 1, 28, 28), dtype=np.float32))
model = NeuralNetwork()
numpy_init(model, 0)
model.eval()
with torch.no_grad():
    before = model(X)
print("logits", before[0, :4])

# Saving and loading model weights
torch.save(model.state_dict(), "model_weights.pth")
model = NeuralNetwork()
print(model.load_state_dict(torch.load("model_weights.pth", weights_only=True)))
model.eval()
with torch.no_grad():
    print("weights restored:", torch.equal(model(X), before))
state = torch.load("model_weights.pth")
for key, value in state.items():
    print(key, value.shape, value.dtype, value.requires_grad)

# Saving and loading models with shapes
torch.save(model, "model.pth")
model = torch.load("model.pth", weights_only=False)
print(model)
with torch.no_grad():
    print("whole model restored:", torch.equal(model(X), before))
try:
    torch.load("model.pth")          # weights_only=True refuses a pickled module
except pickle.UnpicklingError as err:
    print("refused with weights_only=True:", "Weights only load failed" in str(err))

# A general checkpoint, to resume training
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
model.train()
loss = nn.CrossEntropyLoss()(model(X), torch.tensor([1, 2, 3, 4]))
loss.backward()
optimizer.step()
torch.save({"epoch": 5, "model_state_dict": model.state_dict(),
            "optimizer_state_dict": optimizer.state_dict(), "loss": loss}, "checkpoint.tar")

model2 = NeuralNetwork()
optimizer2 = torch.optim.SGD(model2.parameters(), lr=0.5)
checkpoint = torch.load("checkpoint.tar", weights_only=True)
model2.load_state_dict(checkpoint["model_state_dict"])
optimizer2.load_state_dict(checkpoint["optimizer_state_dict"])
print("epoch", checkpoint["epoch"], "loss", checkpoint["loss"])
print("lr", optimizer2.param_groups[0]["lr"], "momentum", optimizer2.param_groups[0]["momentum"])
print("state keys", list(checkpoint["optimizer_state_dict"]["state"][0].keys()))
model2.eval()
model.eval()
with torch.no_grad():
    print("checkpoint restored:", torch.equal(model2(X), model(X)))
for _ in range(2):
    for m, opt in ((model, optimizer), (model2, optimizer2)):
        m.train()
        opt.zero_grad()
        nn.CrossEntropyLoss()(m(X), torch.tensor([1, 2, 3, 4])).backward()
        opt.step()
with torch.no_grad():
    print("resumed training agrees:", torch.allclose(model2(X), model(X), atol=1e-6))
