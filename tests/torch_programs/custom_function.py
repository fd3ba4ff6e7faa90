"""A custom autograd Function (a cubic Legendre polynomial) used in a fit."""
import math

import numpy as np
import torch


class Legendre3(torch.autograd.Function):
    """P3(u) = (5u^3 - 3u) / 2, with its derivative written by hand."""

    @staticmethod
    def forward(ctx, u):
        ctx.save_for_backward(u)
        return 0.5 * (5 * u ** 3 - 3 * u)

    @staticmethod
    def backward(ctx, grad_output):
        (u,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * u ** 2 - 1)


class ScaledSquare(torch.autograd.Function):
    """k * v^2 with a non-tensor argument that gets no gradient."""

    @staticmethod
    def forward(ctx, v, k):
        ctx.save_for_backward(v)
        ctx.k = k
        return k * v * v

    @staticmethod
    def backward(ctx, grad_output):
        (v,) = ctx.saved_tensors
        return grad_output * 2 * ctx.k * v, None


u = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
out = Legendre3.apply(u)
print("P3:", " ".join("{:.4f}".format(v) for v in out.tolist()))
print("has grad_fn:", out.grad_fn is not None)
out.sum().backward()
print("dP3:", " ".join("{:.4f}".format(v) for v in u.grad.tolist()))

v = torch.tensor([1.0, 3.0], requires_grad=True)
ScaledSquare.apply(v, 2.5).sum().backward()
print("d(k v^2):", v.grad.tolist())

x = torch.linspace(-math.pi, math.pi, 200)
y = torch.sin(x)
rng = np.random.default_rng(3)
a, b, c, d = (torch.full((), float(s), requires_grad=True) for s in rng.uniform(-0.1, 0.1, 4).astype(np.float32))
lr = 5e-6
for step in range(400):
    P3 = Legendre3.apply
    y_pred = a + b * P3(c + d * x)
    loss = (y_pred - y).pow(2).sum()
    if step % 100 == 99:
        print("step {} loss {:.4f}".format(step, loss.item()))
    loss.backward()
    with torch.no_grad():
        for p in (a, b, c, d):
            p -= lr * p.grad
            p.grad = None
print("fit: {:.4f} + {:.4f} * P3({:.4f} + {:.4f} x)".format(a.item(), b.item(), c.item(), d.item()))
