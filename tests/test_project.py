"""Checks of the project itself: dependency lists agree, every chapter is in the book and stored executed."""

import json
import re
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower().replace("_", "-")


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_norm(r) for r in meta["dependencies"]}
    for extra in meta["optional-dependencies"].values():
        wanted |= {_norm(r) for r in extra}
    text = (ROOT / "environment.yml").read_text()
    pip_block = text.split("- pip:", 1)[1]
    lines = [line.strip() for line in pip_block.splitlines()]
    listed = {_norm(line[2:]) for line in lines if line.startswith("- ") and line != "- -e ."}
    assert listed == wanted


def test_constraints_respect_pyproject_ranges():
    from packaging.requirements import Requirement

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    ranges = {Requirement(r).name.lower(): Requirement(r).specifier for r in meta["dependencies"]}
    for extra in meta["optional-dependencies"].values():
        ranges.update({Requirement(r).name.lower(): Requirement(r).specifier for r in extra})
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        req = Requirement(line)
        version = str(req.specifier).lstrip("=")
        if req.name.lower() in ranges:
            assert ranges[req.name.lower()].contains(version, prereleases=True), line


BACKENDS = ("tensorflow", "jax", "torch")


def test_backends_are_extras_and_make_installs_every_extra():
    from packaging.requirements import Requirement

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = meta["optional-dependencies"]
    base = {Requirement(r).name.lower() for r in meta["dependencies"]}
    assert not base & {"tensorflow", "jax", "jaxlib", "torch"}, "the base dependencies name no Keras backend"
    assert set(BACKENDS) <= set(extras)
    # PyPI's Linux torch wheels are CUDA builds: the extra pins the one release whose CPU wheel we install.
    assert [str(Requirement(r).specifier) for r in extras["torch"]] == ["==2.13.0"]
    installed = re.search(r'-c constraints\.txt -e "\.\[([^\]]*)\]"', (ROOT / "Makefile").read_text())
    assert installed and set(installed.group(1).split(",")) == set(extras), "make install takes every extra"
    pinned = {
        Requirement(line).name.lower()
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for extra in (*BACKENDS, "test"):
        for req in extras[extra]:
            assert Requirement(req).name.lower() in pinned, f"{req} (extra {extra}) has no exact pin in constraints.txt"


def _toc_files():
    return re.findall(r"file:\s*(\S+)", (ROOT / "_toc.yml").read_text()) + [
        re.search(r"^root:\s*(\S+)", (ROOT / "_toc.yml").read_text(), re.MULTILINE).group(1)
    ]


def test_every_toc_entry_exists_and_every_notebook_is_in_the_toc():
    entries = _toc_files()
    for entry in entries:
        assert any((ROOT / (entry + ext)).exists() for ext in ("", ".md", ".ipynb")), entry
    for nb in NOTEBOOKS:
        assert f"notebooks/{nb.stem}" in entries, f"{nb.name} is not in _toc.yml"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_executed_top_to_bottom_without_errors(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    counts = [c["execution_count"] for c in code]
    assert all(isinstance(n, int) for n in counts[1:]), "stored without outputs: run `make book-execute`"
    executed = [n for n in counts if n is not None]
    assert executed == sorted(executed) and len(set(executed)) == len(executed), "cells were not run top to bottom"
    for cell in code:
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"stored error in a cell: {out.get('ename')}"
    checked = [c for c in code if "".join(c["source"]).lstrip().startswith("# NBVAL_CHECK_OUTPUT")]
    assert len(checked) >= 3, "each chapter needs at least 3 NBVAL_CHECK_OUTPUT cells"
    assert path.stat().st_size < 5_000_000, "keep stored notebooks lean"
