"""Tensors: creation, attributes, indexing, joining, arithmetic, numpy bridge."""
import numpy as np
import torch

values = [[1.0, 2.0], [3.0, 4.0]]
x = torch.tensor(values)
print(x)
print(x.shape, x.dtype, x.device)

arr = np.arange(6, dtype=np.float32).reshape(2, 3)
shared = torch.from_numpy(arr)
arr[0, 0] = 10.0                      # the tensor sees the numpy write
print(shared[0, 0].item())
shared.mul_(2)                        # and numpy sees the tensor's write
print(arr[0].tolist())

print(torch.zeros_like(x).sum().item(), torch.ones_like(x).sum().item())
r = torch.rand_like(x)
print(r.shape, r.dtype, bool(((r >= 0) & (r < 1)).all()))
print(torch.zeros(2, 3).shape, torch.ones((3,)).tolist())
print(torch.arange(5).tolist(), torch.arange(5).dtype)
print(torch.arange(1.0, 2.0, 0.25).tolist())
print(torch.linspace(0, 1, steps=5).tolist())
print(torch.eye(3).tolist())
print(torch.full((2, 2), 7.0).tolist())
print(torch.tensor([1, 2, 3]).dtype, torch.tensor([1.5]).dtype, torch.tensor([True]).dtype)

rng = np.random.default_rng(0)
t = torch.from_numpy(rng.standard_normal((4, 4)).astype(np.float32))
print("first row:", " ".join(f"{v:.4f}" for v in t[0].tolist()))
print("first column:", " ".join(f"{v:.4f}" for v in t[:, 0].tolist()))
print("last column:", " ".join(f"{v:.4f}" for v in t[..., -1].tolist()))
t[:, 1] = 0
print("column 1 after zeroing:", t[:, 1].tolist())

joined = torch.cat([t, t, t], dim=1)
print("cat:", joined.shape)
print("stack:", torch.stack([t, t]).shape)

y1 = t @ t.T
y2 = t.matmul(t.T)
print("matmul agree:", torch.allclose(y1, y2))
print("y1 trace {:.4f}".format(y1.diagonal().sum().item()))
z = t * t
print("elementwise sum {:.4f}".format(z.sum().item()))
agg = t.sum()
print(type(agg.item()).__name__, "{:.4f}".format(agg.item()))

t.add_(5)
print("after add_: {:.4f}".format(t.mean().item()))

n = torch.ones(5)
a = n.numpy()
n.add_(1)
print(a.tolist())
