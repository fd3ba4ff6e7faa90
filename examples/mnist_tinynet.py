"""Train TinyNet on MNIST: one 3x3 conv (8 filters, no padding) + ReLU +
2x2 max-pool, then one dense layer; softmax cross-entropy, Adam, batch size 1,
one epoch, 10% of the training set held out for validation, then the test set.

Its summary shows 13,610 trainable parameters: 80 in the conv
(8 * 1 * 3 * 3 + 8) and 13,530 in the dense layer (13 * 13 * 8 = 1352 inputs).

    python examples/mnist_tinynet.py                      # the MNIST sample shipped in the package
    python examples/mnist_tinynet.py --dataset mnist --download
"""
import argparse
import sys
import time

import tinygrad_cnn as tc
import tinygrad_cnn.nn as nn
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import optim
from tinygrad_cnn.data import MNIST_MEAN, MNIST_STD, DataLoader, Subset, load_dataset, random_split
from tinygrad_cnn.training import evaluate, fit, summary


def tinynet() -> nn.Module:
    """28x28 -> conv 3x3 -> 26x26 -> pool 2x2 -> 13x13, times 8 channels = 1352 features."""
    return nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(13 * 13 * 8, 10),
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--dataset", default="mnist-sample", choices=["mnist-sample", "mnist", "fashion-mnist"],
                        help="mnist-sample is shipped in the package (4,000 train / 1,000 test digits, offline)")
    parser.add_argument("--data", default=None, metavar="DIR",
                        help="directory holding the IDX files (default: the cache directory)")
    parser.add_argument("--download", action="store_true", help="download missing MNIST / Fashion-MNIST files")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds initialisation, shuffling and the train/validation split")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--limit-train", type=int, default=None, metavar="N",
                        help="use only the first N training images (before the validation split)")
    parser.add_argument("--log-every", type=int, default=0, metavar="STEPS",
                        help="log a line every this many steps (0: none; with batch size 1 "
                             "each line's accuracy is 0%% or 100%%)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    tc.manual_seed(args.seed)
    full_train = load_dataset(args.dataset, root=args.data, train=True, download=args.download)
    test_set = load_dataset(args.dataset, root=args.data, train=False, download=args.download)
    if args.limit_train is not None:
        full_train = Subset(full_train, range(min(args.limit_train, len(full_train))))
    train_set, val_set = random_split(full_train, [0.9, 0.1], seed=args.seed)
    normalize = (MNIST_MEAN, MNIST_STD)
    train_loader = DataLoader(train_set, batch_size=1, shuffle=True, seed=args.seed, normalize=normalize)
    val_loader = DataLoader(val_set, batch_size=1000, normalize=normalize)
    test_loader = DataLoader(test_set, batch_size=1000, normalize=normalize)
    print(f"{args.dataset}: {len(train_set)} training, {len(val_set)} validation "
          f"and {len(test_set)} test images")

    model = tinynet()
    summary(model, (1, 28, 28))
    optimizer = optim.Adam(model.parameters(), lr=args.lr)

    started = time.perf_counter()
    history = fit(model, optimizer, train_loader, epochs=1, val_loader=val_loader,
                  log_every=args.log_every, progress=not args.no_progress)
    seconds = time.perf_counter() - started
    print(f"training took {seconds:.1f}s ({1000 * seconds / max(history.iterations, 1):.2f} ms per step)")

    test_loss, test_accuracy = evaluate(model, test_loader, F.cross_entropy)
    print(f"test loss: {test_loss:.4f}")
    print(f"test accuracy: {100 * test_accuracy:.2f}%")
    return 130 if history.interrupted else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # a second Ctrl-C, outside training: stop without a traceback
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
