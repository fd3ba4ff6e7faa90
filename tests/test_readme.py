"""The README's Python snippets run as written (in a fresh interpreter)."""
import os
import pathlib
import re
import subprocess
import sys

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_blocks_run(tmp_path):
    pytest.importorskip("matplotlib", reason="the README's snippets plot (matplotlib: the plot extra)")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 3
    script = tmp_path / "readme_snippets.py"
    script.write_text("\n".join(blocks))
    # the checkout first on the path, so the snippets see this tree even if not installed
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(README.parent), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "tensor([[ 0.5000, -1.0000,  2.0000]]) tensor([1., 2., 3.])" in result.stdout
    assert "Total params: 13,610" in result.stdout
    assert (tmp_path / "tiny.pt").exists() and (tmp_path / "tiny.safetensors").exists()
