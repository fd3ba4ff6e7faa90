"""The package says the same thing everywhere: its version, its licence, and
how to install it (from a checkout or a git URL: it is not on an index)."""
import configparser
import importlib.metadata
import pathlib
import re

import pytest

import tinygrad_cnn

ROOT = pathlib.Path(__file__).resolve().parent.parent


def setup_cfg():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config


def test_the_version_is_the_one_of_the_package_metadata():
    assert re.fullmatch(r"\d+\.\d+\.\d+", tinygrad_cnn.__version__)
    # one source: setup.cfg reads tinygrad_cnn.__version__
    assert setup_cfg()["metadata"]["version"] == "attr: tinygrad_cnn.__version__"
    try:
        installed = importlib.metadata.version("tinygrad_cnn")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("tinygrad_cnn is not installed (pip install -e .)")
    assert installed == tinygrad_cnn.__version__, "reinstall: pip install -e ."


def test_the_licence_file_matches_the_declared_licence():
    metadata = setup_cfg()["metadata"]
    assert metadata["license"] == "MIT"
    # (the SPDX expression alone: setuptools deprecates licence classifiers beside it)
    assert "License ::" not in metadata.get("classifiers", "")
    assert metadata["license_files"].strip() == "LICENSE"
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert re.search(r"^Copyright \(c\) \d{4} The tinygrad_cnn authors$", text, re.M)
    assert "Permission is hereby granted, free of charge" in text


def test_install_hints_never_point_at_an_index_the_package_is_not_on():
    files = [ROOT / "README.md", *sorted((ROOT / "examples").rglob("*.py")),
             *sorted((ROOT / "examples").rglob("*.ipynb")), *sorted((ROOT / "tinygrad_cnn").rglob("*.py"))]
    offenders = [f"{path.relative_to(ROOT)}: {line.strip()}" for path in files
                 for line in path.read_text().splitlines()
                 if re.search(r"pip install ['\"]?tinygrad_cnn(\[|\b)(?! @)", line)]
    assert not offenders, "\n".join(offenders)


def test_the_readme_sends_learners_to_the_notebooks_first():
    readme = (ROOT / "README.md").read_text()
    first_section = readme.index("\n## ")
    for name in ("01_cnn_from_scratch", "02_convnet_pytorch_style", "03_add_your_own_op"):
        link = f"(examples/notebooks/{name}.ipynb)"
        assert readme.index(link) < first_section
        assert (ROOT / "examples" / "notebooks" / f"{name}.ipynb").is_file()
