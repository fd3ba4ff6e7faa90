"""Train examples/fashion_modern.py's BatchNorm CNN in tinygrad_cnn and in
PyTorch the same way and report both test accuracies.

    python benchmarks/compare_fashion_modern.py              # Fashion-MNIST, 8 epochs
    python benchmarks/compare_fashion_modern.py --epochs 1 --limit-train 2048

Same starting weights (tinygrad_cnn's state_dict loads into the PyTorch model
as it is: same keys, same layouts), the same augmented batches in the same
order (one DataLoader feeds both), AdamW with the same parameter groups and
OneCycleLR; only the dropout masks differ. Needs ``pip install torch==2.13.0``.
"""
import argparse
import os
import sys
import time

import numpy as np

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import optim
from tinygrad_cnn.utils.data import DataLoader, Subset
from _common import try_torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
from fashion_modern import load, modern_cnn  # noqa: E402


def modern_cnn_torch(torch, width):
    nn = torch.nn

    def block(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())
    return nn.Sequential(block(1, width), nn.MaxPool2d(2), block(width, 2 * width),
                         block(2 * width, 2 * width), nn.MaxPool2d(2), block(2 * width, 4 * width),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(4 * width, 10))


def groups(named_parameters):
    named = list(named_parameters)
    return [{"params": [p for n, p in named if p.ndim > 1], "weight_decay": 5e-2},
            {"params": [p for n, p in named if p.ndim <= 1], "weight_decay": 0.0}]


def accuracy(predict, loader):
    correct = total = 0
    for images, labels in loader:
        correct += int((predict(images.data) == labels.data).sum())
        total += len(labels)
    return correct / total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--limit-train", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.download = False
    torch = try_torch(threads=2)
    if torch is None:
        raise SystemExit("compare_fashion_modern needs PyTorch: pip install torch==2.13.0")

    tc.manual_seed(args.seed)
    torch.manual_seed(args.seed)
    name, train_set, test_set = load(args)
    if args.limit_train:
        train_set = Subset(train_set, range(min(args.limit_train, len(train_set))))
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, drop_last=True)
    test_loader = DataLoader(test_set, batch_size=500)

    ours, theirs = modern_cnn(args.width), modern_cnn_torch(torch, args.width)
    theirs.load_state_dict({k: torch.from_numpy(np.array(v.data)) for k, v in ours.state_dict().items()})
    opt_ours = optim.AdamW(groups(ours.named_parameters()), lr=args.lr)
    opt_theirs = torch.optim.AdamW(groups(theirs.named_parameters()), lr=args.lr)
    steps = dict(max_lr=args.lr, epochs=args.epochs, steps_per_epoch=len(train_loader))
    sched_ours = optim.lr_scheduler.OneCycleLR(opt_ours, **steps)
    sched_theirs = torch.optim.lr_scheduler.OneCycleLR(opt_theirs, **steps)
    seconds = {"tinygrad_cnn": 0.0, "torch": 0.0}
    print(f"{name}: {len(train_set)} train / {len(test_set)} test images, {args.epochs} epochs, "
          f"width {args.width}")
    for epoch in range(args.epochs):
        ours.train()
        theirs.train()
        for images, labels in train_loader:
            start = time.perf_counter()
            opt_ours.zero_grad()
            loss = F.cross_entropy(ours(images), labels)
            loss.backward()
            opt_ours.step()
            sched_ours.step()
            seconds["tinygrad_cnn"] += time.perf_counter() - start

            start = time.perf_counter()
            opt_theirs.zero_grad()
            x, y = torch.from_numpy(images.data), torch.from_numpy(labels.data)
            torch_loss = torch.nn.functional.cross_entropy(theirs(x), y)
            torch_loss.backward()
            opt_theirs.step()
            sched_theirs.step()
            seconds["torch"] += time.perf_counter() - start
        print(f"epoch {epoch + 1}: last loss tinygrad_cnn {loss.item():.4f}, torch {torch_loss.item():.4f}",
              flush=True)

    ours.eval()
    theirs.eval()
    with tc.no_grad():
        ours_acc = accuracy(lambda x: ours(tc.Tensor(x)).data.argmax(1), test_loader)
    with torch.no_grad():
        theirs_acc = accuracy(lambda x: theirs(torch.from_numpy(x)).numpy().argmax(1), test_loader)
    print(f"test accuracy  tinygrad_cnn {ours_acc * 100:.2f}%   torch {theirs_acc * 100:.2f}%   "
          f"difference {abs(ours_acc - theirs_acc) * 100:.2f} points")
    print(f"training time  tinygrad_cnn {seconds['tinygrad_cnn']:.1f} s   torch {seconds['torch']:.1f} s")


if __name__ == "__main__":
    main()
