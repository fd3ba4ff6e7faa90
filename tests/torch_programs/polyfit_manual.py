"""Fit a cubic to sin(x) with tensors and autograd, updating weights by hand."""
import math

import numpy as np
import torch

dtype = torch.float
x = torch.linspace(-math.pi, math.pi, 200, dtype=dtype)
y = torch.sin(x)

rng = np.random.default_rng(0)
start = (rng.standard_normal(4) * 0.1).astype(np.float32)
a, b, c, d = (torch.tensor(float(v), requires_grad=True) for v in start)
print("a is a 0-d tensor:", a.dim() == 0, a.ndim)

learning_rate = 1e-5
for t in range(300):
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    loss = (y_pred - y).pow(2).sum()
    if t % 60 == 59:
        print("step {:3d} loss {:.4f}".format(t, loss.item()))
    loss.backward()
    with torch.no_grad():
        a -= learning_rate * a.grad
        b -= learning_rate * b.grad
        c -= learning_rate * c.grad
        d -= learning_rate * d.grad
        a.grad.zero_()
        b.grad.zero_()
        c.grad.zero_()
        d.grad = None

print("y = {:.4f} + {:.4f} x + {:.4f} x^2 + {:.4f} x^3".format(a.item(), b.item(), c.item(), d.item()))
print("still leaves:", a.is_leaf, d.is_leaf, d.requires_grad)
