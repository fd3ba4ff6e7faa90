"""A small modern CNN on Fashion-MNIST: conv-BatchNorm-ReLU blocks, global
average pooling, dropout, AdamW with a one-cycle learning-rate schedule, and
random-crop and flip augmentation through ``vision.transforms``.

    python examples/fashion_modern.py                 # Fashion-MNIST (Debian's package), 8 epochs
    python examples/fashion_modern.py --epochs 1 --limit-train 512 --limit-test 500 --no-progress

Fashion-MNIST is looked for where ``vision.datasets.FashionMNIST`` looks
(``--data DIR`` in torchvision's ``DIR/FashionMNIST/raw`` layout or with the
four IDX files, the cache, Debian's ``dataset-fashion-mnist`` package);
``--download`` fetches it. Without it the example trains on the MNIST sample
shipped in the package, and says so.

Writes to --out (default runs/fashion): fashion.pt (checkpoint after every
epoch: model, optimizer and scheduler), history.csv and, with matplotlib,
curves.png.
"""
import argparse
import os
import sys
import time

import tinygrad_cnn as tc
import tinygrad_cnn.nn as nn
from tinygrad_cnn import optim
from tinygrad_cnn.training import evaluate, fit, plot_history, summary
from tinygrad_cnn.utils.data import DataLoader, Subset
from tinygrad_cnn.vision import datasets, transforms

FASHION_MEAN, FASHION_STD = 0.2860, 0.3530      # per-pixel statistics of the training set


def block(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 convolution (no bias: BatchNorm's shift replaces it), BatchNorm, ReLU."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU())


def modern_cnn(width: int = 32, classes: int = 10) -> nn.Sequential:
    """1x28x28 -> 28x28 -> 14x14 -> 7x7 feature maps, then global average pooling."""
    return nn.Sequential(
        block(1, width), nn.MaxPool2d(2),
        block(width, 2 * width), block(2 * width, 2 * width), nn.MaxPool2d(2),
        block(2 * width, 4 * width),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2),
        nn.Linear(4 * width, classes),
    )


def load(args):
    """Train and test sets with their transforms; Fashion-MNIST if it can be found."""
    augment = transforms.Compose([
        transforms.RandomCrop(28, padding=2), transforms.RandomHorizontalFlip(),
        transforms.ToTensor(), transforms.Normalize((FASHION_MEAN,), (FASHION_STD,))])
    plain = transforms.Compose([transforms.ToTensor(), transforms.Normalize((FASHION_MEAN,), (FASHION_STD,))])
    root = args.data or "data"
    try:
        train = datasets.FashionMNIST(root, train=True, transform=augment, download=args.download)
        test = datasets.FashionMNIST(root, train=False, transform=plain, download=args.download)
        name = "fashion-mnist"
    except RuntimeError as err:
        print(f"Fashion-MNIST not found ({str(err).splitlines()[0]}); training on the MNIST sample "
              "shipped in the package instead", file=sys.stderr)
        train = datasets.MNIST(root, train=True, transform=augment, sample_fallback=True)
        test = datasets.MNIST(root, train=False, transform=plain, sample_fallback=True)
        name = "mnist-sample"
    return name, train, test


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="directory with the Fashion-MNIST files")
    parser.add_argument("--download", action="store_true")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3, help="the one-cycle schedule's peak")
    parser.add_argument("--width", type=int, default=32, help="channels of the first block")
    parser.add_argument("--limit-train", type=int, default=None, help="train on the first N images")
    parser.add_argument("--limit-test", type=int, default=None, help="test on the first N images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join("runs", "fashion"))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    tc.manual_seed(args.seed)
    name, train_set, test_set = load(args)
    if args.limit_train:
        train_set = Subset(train_set, range(min(args.limit_train, len(train_set))))
    if args.limit_test:
        test_set = Subset(test_set, range(min(args.limit_test, len(test_set))))
    print(f"{name}: {len(train_set)} training and {len(test_set)} test images")
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, drop_last=True)
    test_loader = DataLoader(test_set, batch_size=500)

    model = modern_cnn(args.width)
    summary(model, (1, 28, 28))
    # no weight decay on BatchNorm's scales and shifts or on biases, the usual choice
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    optimizer = optim.AdamW([{"params": decay, "weight_decay": 5e-2},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, epochs=args.epochs,
                                              steps_per_epoch=len(train_loader))
    os.makedirs(args.out, exist_ok=True)
    checkpoint = os.path.join(args.out, "fashion.pt")
    start = time.perf_counter()
    history = fit(model, optimizer, train_loader, args.epochs, val_loader=test_loader,
                  log_every=100, progress=not args.no_progress, checkpoint_path=checkpoint,
                  scheduler=scheduler, scheduler_step="batch")
    print(f"training took {time.perf_counter() - start:.1f}s")
    history.to_csv(os.path.join(args.out, "history.csv"))
    test_loss, test_accuracy = evaluate(model, test_loader)
    print(f"test loss: {test_loss:.4f}")
    print(f"test accuracy: {test_accuracy * 100:.2f}%")
    try:
        plot_history(history, os.path.join(args.out, "curves.png"))
    except ImportError:
        pass


if __name__ == "__main__":
    main()
