"""Fine-tune a 'pretrained' Sequential: freeze it, replace its head (model[4] = nn.Linear(512, 10)),
edit it as a list (del, insert, append, slices), and train the new head for a few steps."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def numpy_init(module, rng):
    with torch.no_grad():
        for param in module.parameters():
            bound = 1 / np.sqrt(param.shape[-1])
            param.copy_(torch.from_numpy(rng.uniform(-bound, bound, tuple(param.shape)).astype(np.float32)))


rng = np.random.default_rng(0)
model = nn.Sequential(
    nn.Flatten(),
    nn.Linear(64, 512),
    nn.ReLU(),
    nn.Dropout(0.2),
    nn.Linear(512, 1000),
)
numpy_init(model, rng)
print(model)
print("pretrained head:", model[4], "| last layer:", model[-1].out_features)

for param in model.parameters():
    param.requires_grad = False
model[4] = nn.Linear(512, 10)
numpy_init(model[4], rng)
print("new head:", model[-1])
trainable = [name for name, p in model.named_parameters() if p.requires_grad]
print("trainable:", trainable)
print("trainable count:", sum(p.numel() for p in model.parameters() if p.requires_grad))
print("frozen count:", sum(p.numel() for p in model.parameters() if not p.requires_grad))

# list editing: a slice is a new Sequential that keeps the keys; deleting renumbers
features = model[:3]
print("features:", type(features).__name__, len(features), list(features.state_dict().keys()))
del model[3]
print("after del:", [type(m).__name__ for m in model], list(model.state_dict().keys()))
model.insert(3, nn.Dropout(0.1))
print("after insert:", [type(m).__name__ for m in model])
model.append(nn.LogSoftmax(dim=1))
print(len(model), type(model[-1]).__name__, type(model[-2]).__name__)
del model[-1]

centres = rng.standard_normal((10, 64)).astype(np.float32) * 2
labels = rng.integers(0, 10, 200)
images = centres[labels] + 0.5 * rng.standard_normal((200, 64)).astype(np.float32)
x = torch.from_numpy(images.reshape(200, 1, 8, 8))
y = torch.from_numpy(labels)

optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
model.eval()
with torch.no_grad():
    before = F.cross_entropy(model(x), y)
print(f"loss before fine-tuning: {before.item():.4f}")
model.train()
frozen_before = model[1].weight.clone()
for step in range(20):
    for start in range(0, 200, 50):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x[start:start + 50]), y[start:start + 50])
        loss.backward()
        optimizer.step()
model.eval()
with torch.no_grad():
    logits = model(x)
    after = F.cross_entropy(logits, y)
    accuracy = (logits.argmax(1) == y).float().mean().item()
print("loss went down:", after.item() < before.item() / 4)
print("train accuracy above 95%:", accuracy > 0.95)
print("backbone unchanged:", torch.equal(model[1].weight, frozen_before), model[1].weight.grad is None)
print("head has a gradient:", model[4].weight.grad is not None, tuple(model[4].weight.grad.shape))
print("one image:", tuple(model(x[:1]).shape), model(x[:1]).argmax(1).item() == labels[0])
