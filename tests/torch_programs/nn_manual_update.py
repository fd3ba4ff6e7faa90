"""nn.Sequential polynomial model, MSELoss(reduction='sum'), manual parameter updates."""
import math

import numpy as np
import torch

x = torch.linspace(-math.pi, math.pi, 100)
y = torch.sin(x)
powers = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(powers)
print("features:", xx.shape)

model = torch.nn.Sequential(
    torch.nn.Linear(3, 1),
    torch.nn.Flatten(0, 1),
)
rng = np.random.default_rng(7)
with torch.no_grad():
    model[0].weight.copy_(torch.from_numpy(rng.uniform(-0.5, 0.5, (1, 3)).astype(np.float32)))
    model[0].bias.copy_(torch.from_numpy(rng.uniform(-0.5, 0.5, (1,)).astype(np.float32)))
print(model)
print("output shape:", model(xx).shape)

loss_fn = torch.nn.MSELoss(reduction="sum")
learning_rate = 1e-6
for t in range(500):
    y_pred = model(xx)
    loss = loss_fn(y_pred, y)
    if t % 100 == 99:
        print(t, "{:.4f}".format(loss.item()))
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for param in model.parameters():
            param -= learning_rate * param.grad

linear_layer = model[0]
print("y = {:.4f} + {:.4f} x + {:.4f} x^2 + {:.4f} x^3".format(
    linear_layer.bias.item(), linear_layer.weight[:, 0].item(),
    linear_layer.weight[:, 1].item(), linear_layer.weight[:, 2].item()))
print("mean loss {:.4f}".format(torch.nn.functional.mse_loss(model(xx), y).item()))
