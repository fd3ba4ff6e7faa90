"""nn.functional activations and losses, as functions and as modules, with their gradients."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def show(label, t):
    print(label, tuple(t.shape), " ".join("{:.4f}".format(v) for v in t.flatten().tolist()))


rng = np.random.default_rng(9)
logits = torch.from_numpy(rng.standard_normal((4, 5)).astype(np.float32)).requires_grad_()
target = torch.tensor([0, 3, 4, 1])
soft = torch.from_numpy(rng.dirichlet(np.ones(5), 4).astype(np.float32))

show("softmax", F.softmax(logits, dim=1)[0])
show("log_softmax", F.log_softmax(logits, dim=-1)[1])
show("softmax rows sum", F.softmax(logits, dim=1).sum(dim=1))
show("relu", F.relu(logits)[2])
show("sigmoid", torch.sigmoid(logits)[3])
show("tanh", torch.tanh(logits)[0])
show("leaky_relu", F.leaky_relu(logits, 0.1)[1])

ce = F.cross_entropy(logits, target)
print("cross_entropy {:.4f}".format(ce.item()))
print("cross_entropy sum {:.4f}".format(F.cross_entropy(logits, target, reduction="sum").item()))
show("cross_entropy none", F.cross_entropy(logits, target, reduction="none"))
print("cross_entropy soft targets {:.4f}".format(F.cross_entropy(logits, soft).item()))
print("nll of log_softmax {:.4f}".format(F.nll_loss(F.log_softmax(logits, dim=1), target).item()))
print("module CrossEntropyLoss {:.4f}".format(nn.CrossEntropyLoss()(logits, target).item()))
ce.backward()
show("d ce / d logits row 0", logits.grad[0])

prediction = torch.from_numpy(rng.standard_normal(6).astype(np.float32)).requires_grad_()
goal = torch.from_numpy(rng.standard_normal(6).astype(np.float32))
mse = nn.MSELoss()(prediction, goal)
l1 = nn.L1Loss()(prediction, goal)
print("mse {:.4f} l1 {:.4f} mse sum {:.4f}".format(mse.item(), l1.item(),
                                                  F.mse_loss(prediction, goal, reduction="sum").item()))
(mse + l1).backward()
show("d(mse + l1)", prediction.grad)

scores = torch.from_numpy(rng.standard_normal(5).astype(np.float32)).requires_grad_()
labels = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0])
bce_logits = nn.BCEWithLogitsLoss()(scores, labels)
bce = nn.BCELoss()(torch.sigmoid(scores), labels)
print("bce with logits {:.4f} bce of sigmoid {:.4f}".format(bce_logits.item(), bce.item()))
bce_logits.backward()
show("d bce", scores.grad)

layer_out = nn.Softmax(dim=1)(logits)
print("Softmax module argmax", layer_out.argmax(1).tolist())
print("LogSoftmax module {:.4f}".format(nn.LogSoftmax(dim=1)(logits).sum().item()))
print("ReLU/Sigmoid/Tanh modules {:.4f} {:.4f} {:.4f}".format(
    nn.ReLU()(logits).sum().item(), nn.Sigmoid()(logits).sum().item(), nn.Tanh()(logits).sum().item()))
