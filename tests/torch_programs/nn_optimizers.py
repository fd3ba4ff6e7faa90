"""The same small regression trained with optim.SGD (with momentum), optim.RMSprop and optim.Adam."""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim

x = torch.linspace(-math.pi, math.pi, 100)
y = torch.sin(x)
features = torch.stack([x, x ** 2, x ** 3], dim=1)


def make_model():
    net = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1), nn.Flatten(0, 1))
    rng = np.random.default_rng(11)
    with torch.no_grad():
        for param in net.parameters():
            param.copy_(torch.from_numpy(rng.uniform(-0.3, 0.3, tuple(param.shape)).astype(np.float32)))
    return net


runs = [
    ("SGD", lambda params: optim.SGD(params, lr=1e-3, momentum=0.9)),
    ("RMSprop", lambda params: optim.RMSprop(params, lr=1e-3)),
    ("Adam", lambda params: optim.Adam(params, lr=1e-2)),
]
loss_fn = nn.MSELoss()
for name, make_optimizer in runs:
    model = make_model()
    optimizer = make_optimizer(model.parameters())
    print(name, type(optimizer).__name__, "lr", optimizer.param_groups[0]["lr"])
    for step in range(200):
        prediction = model(features)
        loss = loss_fn(prediction, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 49:
            print("  step {:3d} loss {:.5f}".format(step + 1, loss.item()))
    with torch.no_grad():
        final = loss_fn(model(features), y)
    print("  final {:.5f}".format(final.item()))
