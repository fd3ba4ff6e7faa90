"""nn.Module bookkeeping: children, named modules, state_dict, train/eval, freezing, nn.init, ModuleList."""
import numpy as np
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Dropout(0.2))
        self.heads = nn.ModuleList([nn.Linear(width, 2) for _ in range(2)])
        self.scale = nn.Parameter(torch.ones(1))
        self.register_buffer("steps", torch.zeros(1))

    def forward(self, x):
        h = self.body(x)
        return torch.stack([head(h) for head in self.heads], dim=0) * self.scale


block = Block(4)
print(block)
print([name for name, _ in block.named_children()])
print([name for name, _ in block.named_modules()])
print([(name, tuple(p.shape)) for name, p in block.named_parameters()])
print(list(block.state_dict().keys()))
print("trainable", sum(p.numel() for p in block.parameters() if p.requires_grad))
print("training flags", block.training, block.body[2].training)
block.eval()
print("after eval", block.training, block.body[2].training)
block.train()
print("after train", block.training, block.body[2].training)
print(isinstance(block.scale, nn.Parameter), block.scale.requires_grad, block.steps.requires_grad)

rng = np.random.default_rng(4)
with torch.no_grad():
    for p in block.parameters():
        p.copy_(torch.from_numpy(rng.uniform(-0.5, 0.5, tuple(p.shape)).astype(np.float32)))
nn.init.zeros_(block.heads[1].bias)
nn.init.constant_(block.heads[0].bias, 0.25)
print("init", block.heads[1].bias.tolist(), block.heads[0].bias.tolist())

x = torch.from_numpy(rng.standard_normal((3, 4)).astype(np.float32))
block.eval()
out = block(x)
print("out", tuple(out.shape), "{:.4f}".format(out.sum().item()))

for p in block.body.parameters():
    p.requires_grad_(False)
print("trainable after freezing", sum(p.numel() for p in block.parameters() if p.requires_grad))
out = block(x)
out.pow(2).mean().backward()
print("frozen grad is None:", block.body[0].weight.grad is None)
print("head grad {:.4f}".format(block.heads[0].weight.grad.abs().sum().item()))
print("scale grad {:.4f}".format(block.scale.grad.item()))
block.zero_grad()
print("after zero_grad:", block.scale.grad is None or float(block.scale.grad.abs().sum()) == 0.0)

copy = Block(4)
copy.load_state_dict(block.state_dict())
copy.eval()
print("copy agrees:", torch.allclose(copy(x), block(x)))
sd = block.state_dict()
print("state_dict values are tensors:", all(isinstance(v, torch.Tensor) for v in sd.values()))
print("weight shape in state_dict:", tuple(sd["heads.1.weight"].shape))
