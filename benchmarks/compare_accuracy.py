"""Train the seed ConvNet in tinygrad_cnn and in PyTorch with the same
settings and report both test accuracies.

    python benchmarks/compare_accuracy.py                       # shipped MNIST sample, 6 epochs
    python benchmarks/compare_accuracy.py --dataset fashion-mnist --epochs 2

Same starting weights (copied), same batches in the same order (one
DataLoader feeds both), Adam lr 1e-3, batch 100, normalisation (0.1307,
0.3081); only the dropout masks differ. Needs ``pip install torch==2.13.0``.
"""
import argparse
import time

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import optim
from tinygrad_cnn.data import MNIST_MEAN, MNIST_STD, DataLoader, load_dataset
from bench_convnet import convnet_ours, convnet_torch, copy_weights
from _common import try_torch


def accuracy_ours(model, loader):
    model.eval()
    correct = total = 0
    with tc.no_grad():
        for images, labels in loader:
            correct += int((model(images).detach().numpy().argmax(1) == labels.numpy()).sum())
            total += len(labels)
    model.train()
    return correct / total


def accuracy_torch(torch, model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            logits = model(torch.from_numpy(images.numpy()))
            correct += int((logits.argmax(1).numpy() == labels.numpy()).sum())
            total += len(labels)
    model.train()
    return correct / total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist-sample", choices=["mnist-sample", "mnist", "fashion-mnist"])
    parser.add_argument("--data", default=None, help="directory holding the IDX files")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch = try_torch(threads=2)
    if torch is None:
        raise SystemExit("compare_accuracy needs PyTorch: pip install torch==2.13.0")

    tc.manual_seed(args.seed)
    torch.manual_seed(args.seed)
    train_set = load_dataset(args.dataset, root=args.data, train=True)
    test_set = load_dataset(args.dataset, root=args.data, train=False)
    normalize = (MNIST_MEAN, MNIST_STD)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, seed=args.seed,
                              normalize=normalize)
    test_loader = DataLoader(test_set, batch_size=1000, normalize=normalize)

    ours, theirs = convnet_ours(), convnet_torch(torch)
    copy_weights(ours, theirs, torch)
    opt_ours = optim.Adam(ours.parameters(), lr=1e-3)
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=1e-3)
    seconds = {"tinygrad_cnn": 0.0, "torch": 0.0}
    print(f"{args.dataset}: {len(train_set)} train / {len(test_set)} test images, {args.epochs} epochs")
    for epoch in range(args.epochs):
        for images, labels in train_loader:
            start = time.perf_counter()
            opt_ours.zero_grad()
            loss = F.cross_entropy(ours(images), labels)
            loss.backward()
            opt_ours.step()
            seconds["tinygrad_cnn"] += time.perf_counter() - start

            start = time.perf_counter()
            opt_theirs.zero_grad()
            x, y = torch.from_numpy(images.numpy()), torch.from_numpy(labels.numpy())
            torch_loss = torch.nn.functional.cross_entropy(theirs(x), y)
            torch_loss.backward()
            opt_theirs.step()
            seconds["torch"] += time.perf_counter() - start
        print(f"epoch {epoch + 1}: last loss tinygrad_cnn {loss.item():.4f}, torch {torch_loss.item():.4f}")

    ours_acc = accuracy_ours(ours, test_loader)
    theirs_acc = accuracy_torch(torch, theirs, test_loader)
    print(f"test accuracy  tinygrad_cnn {ours_acc * 100:.2f}%   torch {theirs_acc * 100:.2f}%   "
          f"difference {abs(ours_acc - theirs_acc) * 100:.2f} points")
    print(f"training time  tinygrad_cnn {seconds['tinygrad_cnn']:.1f} s   torch {seconds['torch']:.1f} s")


if __name__ == "__main__":
    main()
