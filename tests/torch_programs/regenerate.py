"""Regenerate tests/torch_programs/NAME.expected by running each program under REAL PyTorch.

    python tests/torch_programs/regenerate.py [NAME ...]

Needs torch. Where torchvision is not importable, the programs that import it run against
_torchvision_stub/ (see its docstring); the .expected files then hold what those torchvision calls
print, which for these programs is nothing torchvision-specific (shapes, dtypes, losses, counts).
"""
import importlib.util
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(os.path.dirname(HERE), "torch_alias.py")
STUB = os.path.join(HERE, "_torchvision_stub")


def programs(names=None):
    found = sorted(f[:-3] for f in os.listdir(HERE)
                   if f.endswith(".py") and not f.startswith("_") and f != "regenerate.py")
    return [n for n in found if not names or n in names]


def real_torch_env():
    env = dict(os.environ)
    if importlib.util.find_spec("torchvision") is None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (STUB, env.get("PYTHONPATH")) if p)
    return env


def run_real(names, outdir):
    paths = [os.path.join(HERE, n + ".py") for n in names]
    subprocess.run([sys.executable, RUNNER, "--batch", "--real", outdir, *paths],
                   env=real_torch_env(), check=True)


def main(argv):
    if importlib.util.find_spec("torch") is None:
        sys.exit("regenerate.py needs PyTorch installed")
    names = programs(argv)
    with tempfile.TemporaryDirectory() as outdir:
        run_real(names, outdir)
        failed = False
        for name in names:
            with open(os.path.join(outdir, name + ".rc")) as f:
                status = int(f.read())
            if status != 0:
                failed = True
                with open(os.path.join(outdir, name + ".err")) as f:
                    print(f"{name}: failed under torch (status {status})\n{f.read()}", file=sys.stderr)
                continue
            with open(os.path.join(outdir, name + ".out")) as src, \
                    open(os.path.join(HERE, name + ".expected"), "w") as dst:
                dst.write(src.read())
            print("wrote", name + ".expected")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main(sys.argv[1:])
