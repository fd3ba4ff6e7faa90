"""The seed ConvNet trained by the reference ops and by the fast kernels: test accuracy and time.

    python benchmarks/compare_kernels.py                  # 6 epochs on the shipped MNIST sample
    python benchmarks/compare_kernels.py --epochs 1       # a quicker look

Runs the README's main job (examples/mnist_convnet.py, same seed, so the same initial weights,
dropout masks and batches) once with ``TINYGRAD_CNN_KERNELS=reference`` and once with ``fast``,
and prints each run's training time and test accuracy. The two differ only by float32 rounding
(the kernels sum in another order), which training amplifies a little; the reference is the
readable code, several times slower.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(os.path.dirname(HERE), "examples", "mnist_convnet.py")


def run(kernel_set: str, epochs: int, seed: int) -> dict:
    env = dict(os.environ, TINYGRAD_CNN_KERNELS=kernel_set, MPLBACKEND="Agg")
    with tempfile.TemporaryDirectory() as out:
        result = subprocess.run([sys.executable, EXAMPLE, "--epochs", str(epochs), "--seed", str(seed),
                                 "--no-progress", "--out", out], env=env, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{kernel_set}: the example failed:\n{result.stderr[-2000:]}")
    text = result.stdout
    return {"train_s": float(re.search(r"training took ([\d.]+)s", text).group(1)),
            "accuracy": float(re.search(r"test accuracy: ([\d.]+)%", text).group(1)),
            "loss": float(re.search(r"test loss: ([\d.]+)", text).group(1))}


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    results = {name: run(name, args.epochs, args.seed) for name in ("fast", "reference")}
    print(f"{'kernels':10s} {'training (s)':>12s} {'test loss':>10s} {'test accuracy':>14s}")
    for name, r in results.items():
        print(f"{name:10s} {r['train_s']:12.1f} {r['loss']:10.4f} {r['accuracy']:13.2f}%")
    fast, ref = results["fast"], results["reference"]
    print(f"reference / fast time: {ref['train_s'] / fast['train_s']:.2f}x; "
          f"accuracy difference: {ref['accuracy'] - fast['accuracy']:+.2f} points")


if __name__ == "__main__":
    main(sys.argv[1:])
