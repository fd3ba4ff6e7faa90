"""A first look at the engine: record a graph, backpropagate, take a
gradient of a gradient, and fit a tiny model with plain gradient descent.

    python examples/autograd_demo.py
"""
import numpy as np

import tinygrad_cnn as tc
from tinygrad_cnn import Tensor

# 1. y = sum(x * w): dy/dx = w, dy/dw = x
x = Tensor([[1.0, 2.0, 3.0]], requires_grad=True)
w = Tensor([0.5, -1.0, 2.0], requires_grad=True)
y = (x * w).sum()
y.backward()
print("y =", y.item())
print("dy/dx =", x.grad.numpy(), " dy/dw =", w.grad.numpy())

# 2. a gradient of a gradient: d2/dt2 (t^3) = 6t
t = Tensor(np.array(2.0), requires_grad=True)
(dt,) = tc.grad(t ** 3, t, create_graph=True)
(d2t,) = tc.grad(dt, t)
print("d/dt t^3 at 2 =", dt.item(), "  d2/dt2 =", d2t.item())

# 3. least squares by gradient descent, float32 throughout
tc.manual_seed(0)
inputs = tc.randn(64, 3)
true_weights = Tensor([[2.0], [-3.0], [0.5]])
targets = inputs @ true_weights + 0.1
weights = tc.zeros(3, 1, requires_grad=True)
bias = tc.zeros(1, requires_grad=True)
for step in range(200):
    loss = ((inputs @ weights + bias - targets) ** 2).mean()
    weights.grad = bias.grad = None
    loss.backward()
    with tc.no_grad():
        weights.data -= 0.1 * weights.grad.data
        bias.data -= 0.1 * bias.grad.data
print("fitted weights", weights.detach().numpy().ravel().round(3), "bias", bias.detach().numpy().round(3),
      "final loss", f"{loss.item():.2e}", "dtype", weights.dtype)
