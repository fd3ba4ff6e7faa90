"""Autograd: leaves, grad_fn, backward, .grad, detach, no_grad, requires_grad_, retain_graph."""
import numpy as np
import torch

rng = np.random.default_rng(1)
x = torch.from_numpy(rng.standard_normal(5).astype(np.float32))
y = torch.from_numpy(rng.standard_normal(3).astype(np.float32))
w = torch.from_numpy(rng.standard_normal((5, 3)).astype(np.float32)).requires_grad_()
b = torch.from_numpy(rng.standard_normal(3).astype(np.float32))
b.requires_grad_(True)
print("w requires grad:", w.requires_grad, "x requires grad:", x.requires_grad)

z = torch.matmul(x, w) + b
loss = ((z - y) ** 2).mean()
print("z has grad_fn:", z.grad_fn is not None, "loss has grad_fn:", loss.grad_fn is not None)
print("x.grad_fn is None:", x.grad_fn is None)
print("leaves:", w.is_leaf, b.is_leaf, z.is_leaf, loss.is_leaf)
print("loss {:.4f}".format(loss.item()))

loss.backward(retain_graph=True)
print("w.grad shape", tuple(w.grad.shape))
print("w.grad sum {:.4f}".format(w.grad.sum().item()))
print("b.grad", " ".join("{:.4f}".format(v) for v in b.grad.tolist()))

loss.backward()                       # the graph was kept, so gradients accumulate
print("b.grad doubled", " ".join("{:.4f}".format(v) for v in b.grad.tolist()))

try:
    loss.backward()                   # now the graph is freed
except RuntimeError:
    print("third backward raised RuntimeError")

with torch.no_grad():
    q = torch.matmul(x, w) + b
print("q requires grad under no_grad:", q.requires_grad)

d = z.detach()
print("detached requires grad:", d.requires_grad, "is leaf:", d.is_leaf)

s = torch.tensor([2.0, 3.0], requires_grad=True)
out = (s ** 3).sum()
out.backward()
print("d(s^3)/ds:", s.grad.tolist())
s.grad.zero_()
(s * s).sum().backward()
print("d(s^2)/ds:", s.grad.tolist())

v = torch.tensor([1.0, -2.0, 4.0], requires_grad=True)
u = v * 2
u.backward(torch.tensor([0.1, 1.0, 0.0001]))
print("vector-Jacobian product:", " ".join("{:.4f}".format(g) for g in v.grad.tolist()))

p = torch.ones(2, 2, requires_grad=True)
h = p + 2
h.retain_grad()
(h * h * 3).mean().backward()
print("non-leaf grad:", h.grad.tolist())
print("leaf grad:", p.grad.tolist())
