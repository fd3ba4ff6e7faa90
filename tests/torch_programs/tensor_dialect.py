"""Everyday tensor idioms: sizes, views, squeezes, permutes, reductions, comparisons, masks, conversions."""
import numpy as np
import torch


def show(label, t):
    print(label, tuple(t.shape), " ".join("{:.4f}".format(v) for v in t.flatten().tolist()))


rng = np.random.default_rng(5)
x = torch.from_numpy(rng.standard_normal((3, 4)).astype(np.float32))
print(x.size(), x.size(0), x.size(-1), x.numel(), x.dim(), len(x))
show("view", x.view(-1, 4)[1:])
print(x.view(2, 6).shape, x.view(-1).shape, x.reshape(4, 3).shape)
print(x.unsqueeze(1).shape, x.unsqueeze(0).unsqueeze(-1).shape, x.unsqueeze(1).squeeze().shape)
print(torch.zeros(1, 3, 1).squeeze(0).shape, torch.zeros(1, 3, 1).squeeze(-1).shape)
print(x.permute(1, 0).shape, x.transpose(0, 1).shape, torch.zeros(2, 3, 4).permute(2, 0, 1).shape)
print("transpose is_contiguous:", x.t().is_contiguous(), x.t().contiguous().is_contiguous())

values, indices = x.max(1)
show("max values", values)
print("max indices", indices.tolist(), indices.dtype)
print("argmax", x.argmax(dim=1).tolist(), x.argmax().item(), x.argmin(0).tolist())
m = torch.max(x)
print("overall max {:.4f}".format(m.item()))
show("min over dim 0", x.min(dim=0).values)
show("torch.maximum", torch.maximum(x[0], x[1]))

print(x.float().dtype, x.long().dtype, x.double().dtype, x.int().dtype, (x > 0).dtype)
show("long of 3x", (x * 3).long().float()[0])
y = x.to("cpu")
print(y.device, y.is_cuda if hasattr(y, "is_cuda") else False, torch.cuda.is_available())
print(x.to(torch.float64).dtype)

positive = x[x > 0]
show("positives", positive)
show("where", torch.where(x > 0, x, torch.zeros_like(x))[0])
show("where scalar", torch.where(x < 0, x, 1.0)[2])
mask = (x > 0) & (x < 1)
print("mask count", mask.sum().item(), int(mask.sum()), mask.any().item(), mask.all().item())

print("std {:.4f} var {:.4f} biased var {:.4f}".format(x.std().item(), x.var().item(), x.var(unbiased=False).item()))
show("std over dim 1", x.std(dim=1))
show("clamp min 0", x.clamp(min=0)[0])
show("clamp both", x.clamp(-0.5, 0.5)[1])
show("clamp max", torch.clamp(x, max=0.0)[2])
print("norm {:.4f}".format(x.norm().item()))
show("sum dim 0", x.sum(dim=0))
show("sum keepdim", x.sum(dim=1, keepdim=True))
print(x.sum(dim=1, keepdim=True).shape, x.mean(0, keepdim=True).shape)
show("mean dim 1", x.mean(dim=1))
print("mean {:.4f}".format(x.mean().item()), "sum {:.4f}".format(torch.sum(x).item()))
show("abs exp log", torch.log(torch.exp(x.abs()))[0])
show("pow sqrt", x.pow(2).sqrt()[0])

a = torch.tensor([1, 2, 3])
b = torch.tensor([3, 2, 1])
print((a == b).tolist(), (a != b).tolist(), (a < b).tolist(), (a >= b).tolist(), a.eq(2).tolist(), torch.equal(a, a))
print(int(torch.tensor(7)), float(torch.tensor(2.5)), torch.tensor(3.0).item(), bool(torch.tensor(True)))
print(a.sum().item(), type(a.sum().item()).__name__, a.float().mean().item())
print(torch.tensor([[1, 2], [3, 4]]).tolist(), a.numpy().dtype)
print("isinstance Tensor:", isinstance(x, torch.Tensor), torch.is_tensor(x))
