"""Time data loading: milliseconds per batch for the usual MNIST pipelines.

    python benchmarks/bench_data.py [--batch-size 100] [--batches 40] [--repeats 5]

For each pipeline it times our DataLoader over ``vision.datasets.MNIST`` (the
shipped sample when the full files are absent), vectorised (the default) and
item by item (the same transform wrapped so the loader cannot batch it), and,
when torch and torchvision are importable, torch's DataLoader over the same
images with torchvision's transforms. Budget: a ConvNet training step at batch
100 takes ~130 ms on the project's 2-core machine, so loading should stay
under ~13 ms per batch.
"""
import argparse
import os
import statistics
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tinygrad_cnn as tc  # noqa: E402
from tinygrad_cnn.utils.data import DataLoader  # noqa: E402
from tinygrad_cnn.vision import datasets, transforms as T  # noqa: E402

MEAN, STD = (0.1307,), (0.3081,)


def pipelines(transforms):
    return {
        "no transform (uint8)": None,
        "ToTensor": transforms.Compose([transforms.ToTensor()]),
        "ToTensor+Normalize": transforms.Compose([transforms.ToTensor(),
                                                  transforms.Normalize(MEAN, STD)]),
        "RandomCrop(28, padding=4)+Flip+ToTensor+Normalize": transforms.Compose([
            transforms.RandomCrop(28, padding=4), transforms.RandomHorizontalFlip(),
            transforms.ToTensor(), transforms.Normalize(MEAN, STD)]),
    }


def time_loader(make_loader, batches: int, repeats: int) -> float:
    """Median over ``repeats`` of the mean ms per batch over ``batches`` batches."""
    results = []
    for _ in range(repeats):
        iterator = iter(make_loader())
        start = time.perf_counter()
        for _ in range(batches):
            next(iterator)
        results.append((time.perf_counter() - start) / batches * 1e3)
    return statistics.median(results)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--root", default="data")
    args = parser.parse_args()
    tc.manual_seed(0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the sample fallback warns
        dataset = datasets.MNIST(args.root, train=True)
    print(f"MNIST from {dataset.source}: {len(dataset)} images; batch {args.batch_size}, "
          f"shuffled; median of {args.repeats} runs of {args.batches} batches")
    needed = args.batch_size * args.batches
    if len(dataset) < needed:
        raise SystemExit(f"need {needed} images, have {len(dataset)}: lower --batches")

    try:
        import torch
        import torchvision
        from torchvision import transforms as torch_transforms
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(2)
        torch_set = torchvision.datasets.MNIST.__new__(torchvision.datasets.MNIST)
        torchvision.datasets.VisionDataset.__init__(torch_set, args.root)
        torch_set.train = True
        torch_set.data = torch.from_numpy(dataset.data.data.copy())
        torch_set.targets = torch.from_numpy(dataset.targets.data.copy())
        torch_pipelines = pipelines(torch_transforms)

    header = f"{'pipeline':52s} {'vectorised':>11s} {'per item':>10s}"
    print(header + (f" {'torch':>10s}" if torch is not None else ""))
    for name, transform in pipelines(T).items():
        dataset.transform = transform
        vectorised = time_loader(lambda: DataLoader(dataset, batch_size=args.batch_size,
                                                    shuffle=True), args.batches, args.repeats)
        # A Lambda anywhere makes the loader fall back to one __getitem__ per item.
        dataset.transform = T.Compose([T.Lambda(lambda image: image)] +
                                      ([transform] if transform is not None else []))
        per_item = time_loader(lambda: DataLoader(dataset, batch_size=args.batch_size,
                                                  shuffle=True), args.batches, args.repeats)
        line = f"{name:52s} {vectorised:8.2f} ms {per_item:7.2f} ms"
        if torch is not None:
            torch_set.transform = torch_pipelines[name]
            if name.startswith("no transform"):
                torch_set.transform = torch_transforms.PILToTensor()
            torch_ms = time_loader(lambda: torch.utils.data.DataLoader(
                torch_set, batch_size=args.batch_size, shuffle=True), args.batches, args.repeats)
            line += f" {torch_ms:7.2f} ms"
        print(line)
    dataset.transform = None
    print("(budget: < 13 ms per batch of 100, a tenth of a ConvNet training step)")


if __name__ == "__main__":
    main()
