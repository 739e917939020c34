"""Write (or check) the Colab install cell at the top of every notebook.

The repository URL lives in one place, ``_config.yml`` (``repository.url``);
this script copies it into the first cell of each notebook in ``notebooks/``,
``book/`` (the appendix) and ``assignments/``. ``make colab-cells`` runs it; ``--check`` exits 1 if a
notebook's first cell is out of date (used by the tests).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
TAG = "colab-install"


def repository_url() -> str:
    text = (ROOT / "_config.yml").read_text()
    m = re.search(r"^repository:\s*\n\s+url:\s*(\S+)", text, flags=re.M)
    if not m:
        raise SystemExit("_config.yml has no repository.url")
    return m.group(1)


def cell_source(url: str | None = None) -> str:
    url = url or repository_url()
    return (
        "# On Colab: install kgan_utils from the book's repository (does nothing elsewhere).\n"
        "import sys\n"
        "\n"  # as ruff formats it: the notebooks are ruff-formatted (make lint)
        'if "google.colab" in sys.modules:\n'
        f'    %pip install -q "kgan_utils @ git+{url}@main"'
    )


def notebooks():
    for folder in ("notebooks", "book", "assignments"):
        yield from sorted((ROOT / folder).rglob("*.ipynb"))


def sync(check: bool) -> int:
    want = cell_source()
    stale = []
    for path in notebooks():
        if ".ipynb_checkpoints" in path.parts:
            continue
        nb = nbformat.read(path, as_version=4)
        first = nb.cells[0] if nb.cells else None
        ok = (
            first is not None
            and first.cell_type == "code"
            and first.source == want
            and TAG in first.metadata.get("tags", [])
        )
        if ok:
            continue
        stale.append(path.relative_to(ROOT))
        if not check:
            cell = nbformat.v4.new_code_cell(want, metadata={"tags": [TAG, "remove-cell"]})
            if first is not None and TAG in first.metadata.get("tags", []):
                nb.cells[0] = cell
            else:
                nb.cells.insert(0, cell)
            nbformat.write(nb, path)
    for p in stale:
        print(("out of date: " if check else "updated: ") + str(p))
    return 1 if (check and stale) else 0


if __name__ == "__main__":
    sys.exit(sync(check="--check" in sys.argv))
