"""A LeNet-style Module: parameters, forward, backward with a given gradient, a loss and an SGD step."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


net = Net()
print(net)

params = list(net.parameters())
print(len(params))
print(params[0].size())
print([tuple(p.size()) for p in params])
print("total", sum(p.numel() for p in params))

rng = np.random.default_rng(42)
with torch.no_grad():
    for p in params:
        fan_in = p[0].numel() if p.dim() > 1 else 16
        p.copy_(torch.from_numpy((rng.uniform(-1, 1, tuple(p.shape)) / np.sqrt(fan_in)).astype(np.float32)))

image = torch.from_numpy(rng.standard_normal((1, 1, 32, 32)).astype(np.float32))
out = net(image)
print(out.shape)
print("out", " ".join("{:.4f}".format(v) for v in out[0].tolist()))

net.zero_grad()
upstream = torch.randn(1, 10)          # torch's RNG: only its shape is printed
print("upstream", upstream.shape)
out.backward(torch.from_numpy(rng.standard_normal((1, 10)).astype(np.float32)))
print("conv1.bias.grad", " ".join("{:.4f}".format(v) for v in net.conv1.bias.grad.tolist()))

output = net(image)
target = torch.from_numpy(rng.standard_normal(10).astype(np.float32)).view(1, -1)
criterion = nn.MSELoss()
loss = criterion(output, target)
print("loss {:.4f}".format(loss.item()))
print("loss.grad_fn is set:", loss.grad_fn is not None)
print("next function is set:", loss.grad_fn.next_functions[0][0] is not None)

net.zero_grad()
print("conv1.bias.grad before backward", net.conv1.bias.grad)
loss.backward()
print("conv1.bias.grad after backward", " ".join("{:.4f}".format(v) for v in net.conv1.bias.grad.tolist()))

optimizer = optim.SGD(net.parameters(), lr=0.01)
for step in range(5):
    optimizer.zero_grad()
    loss = criterion(net(image), target)
    loss.backward()
    optimizer.step()
    print("step {} loss {:.4f}".format(step, loss.item()))
