"""The smaller parts of PyTorch's API that tutorials reach for: a confusion matrix with index_put_,
diag, einsum, round, warm-up then cosine schedules, WeightedRandomSampler, grad_fn names of
composite losses, one unbatched image through a conv net, and except RuntimeError around shape
and dtype mistakes."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim import lr_scheduler
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler

rng = np.random.default_rng(0)

# --- a confusion matrix, its diagonal and per-class recall --------------------------------------
targets = torch.from_numpy(rng.integers(0, 4, 60))
predictions = torch.where(torch.from_numpy(rng.random(60) < 0.7), targets, torch.from_numpy(rng.integers(0, 4, 60)))
cm = torch.zeros(4, 4, dtype=torch.long)
cm.index_put_((targets, predictions), torch.ones(60, dtype=torch.long), accumulate=True)
print(cm)
print("correct:", torch.diag(cm), "total:", cm.sum().item())
print("recall:", torch.round(cm.diag() / cm.sum(1), decimals=3))
print("accuracy: {:.4f}".format((cm.diag().sum() / cm.sum()).item()))

# --- einsum, diag and round with gradients -------------------------------------------------------
a = torch.from_numpy(rng.standard_normal((3, 4)).astype(np.float32)).requires_grad_()
b = torch.from_numpy(rng.standard_normal((4, 2)).astype(np.float32)).requires_grad_()
product = torch.einsum("ij,jk->ik", a, b)
print(torch.allclose(product, a @ b), product.shape)
trace = torch.einsum("ii", torch.diag(torch.arange(1.0, 4.0)))
print("trace:", trace)
(product.sum() + a.diagonal().sum() + a.round().sum()).backward()
print("a.grad:", a.grad)
print("b.grad:", b.grad)
print(torch.round(torch.tensor([0.5, 1.5, 2.5, -0.5, 1234.5678]), decimals=-1))
print(torch.diag(torch.tensor([1.0, 2.0]), 1))

# --- warm-up then cosine; warm restarts; cyclic ---------------------------------------------------
parameter = nn.Parameter(torch.zeros(2))
optimizer = torch.optim.SGD([parameter], lr=0.1, momentum=0.9)
warmup = lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=5)
cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=10, eta_min=0.001)
schedule = lr_scheduler.SequentialLR(optimizer, [warmup, cosine], milestones=[5])
lrs = []
for epoch in range(15):
    optimizer.step()
    lrs.append(schedule.get_last_lr()[0])
    schedule.step()
print("warm-up + cosine:", " ".join(f"{lr:.5f}" for lr in lrs))

optimizer = torch.optim.SGD([parameter], lr=0.05)
restarts = lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=3, T_mult=2)
seen = []
for epoch in range(10):
    optimizer.step()
    seen.append(restarts.get_last_lr()[0])
    restarts.step()
print("warm restarts:", " ".join(f"{lr:.5f}" for lr in seen))

optimizer = torch.optim.SGD([parameter], lr=0.1, momentum=0.9)
cyclic = lr_scheduler.CyclicLR(optimizer, base_lr=0.01, max_lr=0.1, step_size_up=3, mode="triangular2")
seen = []
for step in range(12):
    optimizer.step()
    seen.append((cyclic.get_last_lr()[0], optimizer.param_groups[0]["momentum"]))
    cyclic.step()
print("cyclic:", " ".join(f"{lr:.4f}/{m:.3f}" for lr, m in seen))
chained = lr_scheduler.ChainedScheduler([lr_scheduler.ConstantLR(optimizer, factor=0.5, total_iters=2),
                                         lr_scheduler.ExponentialLR(optimizer, gamma=0.9)])
chained_lrs = []
for step in range(4):
    chained.step()
    chained_lrs.append(f"{chained.get_last_lr()[0]:.6f}")
print("chained:", chained_lrs)

# --- a class-balanced sampler ------------------------------------------------------------------------
labels = torch.tensor([0] * 45 + [1] * 5)
class_counts = torch.bincount(labels)
sample_weights = (1.0 / class_counts.float())[labels]
sampler = WeightedRandomSampler(sample_weights, num_samples=len(labels), replacement=True)
print("sampler length:", len(sampler), "indices in range:", all(0 <= i < 50 for i in sampler))
loader = DataLoader(TensorDataset(labels), batch_size=10, sampler=sampler)
print("batches:", len(loader), [tuple(batch.shape) for (batch,) in loader][:2])
only = WeightedRandomSampler([0.0, 1.0, 1.0, 0.0], num_samples=200)
print("zero weights never drawn:", sorted(set(only)))

# --- what autograd shows for composite losses ----------------------------------------------------------
logits = torch.from_numpy(rng.standard_normal((4, 3)).astype(np.float32)).requires_grad_()
goal = torch.from_numpy(rng.random((4, 3)).astype(np.float32))
for loss in (F.binary_cross_entropy_with_logits(logits, goal), F.smooth_l1_loss(logits, goal),
             F.huber_loss(logits, goal), F.softplus(logits).sum(), F.cross_entropy(logits, torch.tensor([0, 1, 2, 0]))):
    print(loss.grad_fn.name(), f"{loss.item():.4f}")

# --- one image through a conv net ------------------------------------------------------------------
torch.manual_seed(0)
net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.AvgPool2d(2),
                    nn.AdaptiveAvgPool2d(1), nn.Flatten(0))
image = torch.from_numpy(rng.random((1, 8, 8), dtype=np.float32))
print("one image:", tuple(net(image).shape), "a batch of one:", tuple(net[:-1](image.unsqueeze(0)).shape))

# --- except RuntimeError around the usual mistakes -----------------------------------------------------
mistakes = {
    "linear shapes": lambda: nn.Linear(10, 3)(torch.ones(2, 12)),
    "conv channels": lambda: nn.Conv2d(3, 8, 3)(torch.ones(1, 1, 8, 8)),
    "reshape": lambda: torch.arange(6).reshape(4, 2),
    "broadcast": lambda: torch.ones(2, 3) + torch.ones(4),
    "float64 batch": lambda: nn.Linear(4, 2)(torch.from_numpy(rng.random((3, 4)))),
    "uint8 image": lambda: nn.Conv2d(1, 2, 3)(torch.ones(1, 1, 5, 5, dtype=torch.uint8)),
}
for name, mistake in mistakes.items():
    try:
        mistake()
        print(name, "ran")
    except RuntimeError:
        print(name, "raised RuntimeError")
