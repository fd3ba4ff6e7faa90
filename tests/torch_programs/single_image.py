"""One image through strided, padded and dilated convolutions, a pool and a linear layer (the
small-layer paths), a saturated cross-entropy, ignore_index, an out-of-range label, and Adam."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
net = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1, stride=2), nn.ReLU(), nn.MaxPool2d(2),
                     nn.Conv2d(6, 4, 3, dilation=2), nn.Flatten(), nn.Linear(4, 3))
x = torch.linspace(-1, 1, 1200).reshape(1, 3, 20, 20).requires_grad_()
with torch.no_grad():
    for p in net.parameters():
        p.copy_(torch.linspace(-0.3, 0.4, p.numel()).reshape(p.shape))
out = net(x)
print(out.shape)
loss = F.cross_entropy(out, torch.tensor([2]))
loss.backward()
print(round(loss.item(), 4), round(x.grad.abs().sum().item(), 4), round(net[0].weight.grad.sum().item(), 4))
print(F.cross_entropy(torch.zeros(3, 4), torch.tensor([1, -100, 2])).item())
print(F.cross_entropy(torch.tensor([[0.0, -60.0]]), torch.tensor([0])).item())
try:
    F.cross_entropy(torch.zeros(1, 4), torch.tensor([4]))
except IndexError:
    print("IndexError")
opt = torch.optim.Adam(net.parameters(), lr=0.01)
for _ in range(3):
    opt.zero_grad(); l = F.cross_entropy(net(x), torch.tensor([2])); l.backward(); opt.step()
print(round(l.item(), 3), opt.state_dict()["state"][0]["step"])
