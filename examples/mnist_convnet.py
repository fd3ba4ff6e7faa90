"""Train the classic MNIST ConvNet: two 5x5 conv + ReLU + 2x2 max-pool blocks,
dropout, and two dense layers; cross-entropy on logits, Adam (lr 1e-3),
batch 100, 6 epochs.

The model is forward-only code: every backward pass comes from the ops' VJPs.

    python examples/mnist_convnet.py                      # the MNIST sample shipped in the package
    python examples/mnist_convnet.py --dataset mnist --download
    python examples/mnist_convnet.py --epochs 1 --limit-train 300 --no-progress   # a quick smoke run

Writes to --out (default runs/convnet): convnet.pt (checkpoint after every
epoch: model and optimizer state, epoch, history), history.csv, graph.dot (the
autograd graph of one training step, one node per layer; graph.svg too when
Graphviz's `dot` is installed), and, with the optional matplotlib (pip install
-e '.[plot]'): curves.png (loss and accuracy against the iteration, the test
result at the end), filters.png (the first conv's learned filters), feature_maps.png (what each
layer makes of one test digit), gradient_flow.png (mean and max |grad| per
parameter tensor during training), predictions.png (test digits, mistakes in
red) and confusion.png (the test set's confusion matrix). Ctrl-C stops
training cleanly and keeps the last epoch's checkpoint.
"""
import argparse
import os
import shutil
import sys
import time

import tinygrad_cnn as tc
import tinygrad_cnn.nn as nn
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import optim
from tinygrad_cnn.data import MNIST_MEAN, MNIST_STD, DataLoader, Subset, load_dataset
from tinygrad_cnn import viz
from tinygrad_cnn.training import evaluate, fit, plot_history, summary


def convnet() -> nn.Module:
    """ConvNet for 1x28x28 images; 28 -> 14 -> 7 after the two pools, so 7*7*64 = 3136 features."""
    return nn.Sequential(
        nn.Conv2d(1, 32, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(32, 64, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(7 * 7 * 64, 1000),
        nn.Linear(1000, 10),
    )


def draw_pictures(model, history, train_loader, test_set, test_loader, out) -> list:
    """The graph of one training step, and what the model learned."""
    written = []
    images, labels = next(iter(train_loader))
    model.train()
    with viz.trace_modules(model):          # remembers which layer ran which op
        loss = F.cross_entropy(model(images), labels)
    params = dict(model.named_parameters())
    with open(os.path.join(out, "graph.dot"), "w") as file:
        file.write(viz.to_dot(loss, params=params, show_saved=True, collapse_modules=True))
    written.append("graph.dot")
    if shutil.which("dot"):
        viz.render_graph(loss, os.path.join(out, "graph.svg"), params=params, show_saved=True,
                         collapse_modules=True)
        written.append("graph.svg")
    else:
        print("no graph.svg: drawing the graph needs Graphviz's `dot` program (apt-get install graphviz, "
              "conda install graphviz or brew install graphviz); graph.dot holds the same graph as text")
    del loss
    try:
        import matplotlib  # noqa: F401  (optional extra: pip install -e '.[plot]')
    except ImportError:
        print("matplotlib is not installed, so no pictures: pip install matplotlib (or pip install -e '.[plot]')")
        return written
    normalize = (MNIST_MEAN, MNIST_STD)
    digit, _ = next(iter(test_loader))
    viz.plot_filters(model[0], os.path.join(out, "filters.png"))
    viz.plot_feature_maps(model, digit[0], os.path.join(out, "feature_maps.png"))
    viz.plot_gradient_flow(history, os.path.join(out, "gradient_flow.png"))
    viz.plot_predictions(model, test_set, os.path.join(out, "predictions.png"), count=36, normalize=normalize)
    viz.plot_confusion_matrix(model, test_loader, os.path.join(out, "confusion.png"))
    return written + ["filters.png", "feature_maps.png", "gradient_flow.png", "predictions.png", "confusion.png"]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--dataset", default="mnist-sample", choices=["mnist-sample", "mnist", "fashion-mnist"],
                        help="mnist-sample is shipped in the package (4,000 train / 1,000 test digits, offline)")
    parser.add_argument("--data", default=None, metavar="DIR",
                        help="directory holding the IDX files (default: the cache directory)")
    parser.add_argument("--download", action="store_true", help="download missing MNIST / Fashion-MNIST files")
    parser.add_argument("--out", default=os.path.join("runs", "convnet"), metavar="DIR",
                        help="where convnet.pt, history.csv, curves.png and the pictures go")
    parser.add_argument("--seed", type=int, default=0, help="seeds initialisation, dropout and shuffling")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--limit-train", type=int, default=None, metavar="N",
                        help="train on the first N training images only (quick runs)")
    parser.add_argument("--log-every", type=int, default=None, metavar="STEPS",
                        help="log a line every this many steps (default: 100, or a quarter of an "
                             "epoch when an epoch is shorter than 400 steps)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    tc.manual_seed(args.seed)
    train_set = load_dataset(args.dataset, root=args.data, train=True, download=args.download)
    test_set = load_dataset(args.dataset, root=args.data, train=False, download=args.download)
    if args.limit_train is not None:
        train_set = Subset(train_set, range(min(args.limit_train, len(train_set))))
    normalize = (MNIST_MEAN, MNIST_STD)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, seed=args.seed,
                              normalize=normalize)
    test_loader = DataLoader(test_set, batch_size=1000, normalize=normalize)
    print(f"{args.dataset}: {len(train_set)} training and {len(test_set)} test images")

    model = convnet()
    summary(model, (1, 28, 28), batch_size=args.batch_size)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)

    log_every = args.log_every
    if log_every is None:
        log_every = 100 if len(train_loader) >= 400 else max(1, len(train_loader) // 4)
    os.makedirs(args.out, exist_ok=True)
    checkpoint_path = os.path.join(args.out, "convnet.pt")
    started = time.perf_counter()
    history = fit(model, optimizer, train_loader, epochs=args.epochs, log_every=log_every,
                  progress=not args.no_progress, checkpoint_path=checkpoint_path, track_gradients=True)
    print(f"training took {time.perf_counter() - started:.1f}s")

    test_loss, test_accuracy = evaluate(model, test_loader, F.cross_entropy)
    written = [os.path.basename(history.to_csv(os.path.join(args.out, "history.csv")))]
    if plot_history(history, os.path.join(args.out, "curves.png"), test=(test_loss, test_accuracy)) is not None:
        written.append("curves.png")
    if history.completed_epochs:
        print(f"checkpoint: {checkpoint_path}")

    started = time.perf_counter()
    written += draw_pictures(model, history, train_loader, test_set, test_loader, args.out)
    folder = os.path.relpath(args.out)
    folder = os.path.abspath(args.out) if folder.startswith(os.pardir) else folder
    print(f"pictures ({time.perf_counter() - started:.1f}s) in {folder}{os.sep}: {', '.join(written)}")

    print(f"test loss: {test_loss:.4f}")
    print(f"test accuracy: {100 * test_accuracy:.2f}%")
    return 130 if history.interrupted else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # a second Ctrl-C, outside training: stop without a traceback
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
