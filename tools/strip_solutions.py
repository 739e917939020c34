"""Make the student notebooks of the assignments from the instructor notebooks.

``assignments/instructor/*.ipynb`` hold the assignments with their solutions, marked

* in code cells, by the lines ``### BEGIN SOLUTION`` and ``### END SOLUTION``: everything between them (markers
  included) becomes ``raise NotImplementedError("...")``, indented like the ``BEGIN`` marker;
* in markdown cells, by ``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->``: the text between them becomes
  *Your answer here.*

The student notebooks are written to ``assignments/student/`` with outputs and execution counts cleared.
``make assignments`` runs this script; ``--check`` exits 1 when a student notebook is missing or out of date (the
tests use it), and any unbalanced marker is an error naming the notebook and the cell.

Usage::

    python tools/strip_solutions.py [--check] [SRC_DIR DST_DIR]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "assignments" / "instructor"
DST = ROOT / "assignments" / "student"

CODE_BEGIN = re.compile(r"^(\s*)### BEGIN SOLUTION\s*$")
CODE_END = re.compile(r"^\s*### END SOLUTION\s*$")
MD_BEGIN = re.compile(r"^\s*<!--\s*BEGIN SOLUTION\s*-->\s*$")
MD_END = re.compile(r"^\s*<!--\s*END SOLUTION\s*-->\s*$")
STUB = 'raise NotImplementedError("Replace this line with your code.")'
ANSWER = "*Your answer here.*"


class MarkerError(ValueError):
    pass


def strip_source(source: str, begin: re.Pattern, end: re.Pattern, replacement, where: str) -> tuple[str, int]:
    """Replace every marked block of ``source``; return the new source and the number of blocks."""
    out, inside, n = [], False, 0
    for lineno, line in enumerate(source.split("\n"), 1):
        if begin.match(line):
            if inside:
                raise MarkerError(f"{where}, line {lineno}: BEGIN SOLUTION inside another solution block.")
            inside, n = True, n + 1
            out.append(replacement(begin.match(line)))
        elif end.match(line):
            if not inside:
                raise MarkerError(f"{where}, line {lineno}: END SOLUTION without BEGIN SOLUTION.")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{where}: BEGIN SOLUTION without END SOLUTION.")
    return "\n".join(out), n


def student_version(nb, name: str = "notebook"):
    """A copy of the notebook ``nb`` with every solution replaced and every output cleared."""
    nb = nbformat.from_dict(nb)  # deep copy
    blocks = 0
    for i, cell in enumerate(nb.cells):
        where = f"{name}, cell {i}"
        if cell.cell_type == "code":
            cell.source, n = strip_source(cell.source, CODE_BEGIN, CODE_END, lambda m: m.group(1) + STUB, where)
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
        elif cell.cell_type == "markdown":
            cell.source, n = strip_source(cell.source, MD_BEGIN, MD_END, lambda m: ANSWER, where)
        else:
            n = 0
        blocks += n
    if blocks == 0:
        raise MarkerError(f"{name}: no solution markers; is it an assignment?")
    return nb


def sync(src: Path = SRC, dst: Path = DST, check: bool = False) -> int:
    sources = sorted(src.glob("*.ipynb"))
    if not sources:
        print(f"no instructor notebooks in {src}", file=sys.stderr)
        return 1
    stale = []
    for path in sources:
        want = student_version(nbformat.read(path, as_version=4), path.name)
        target = dst / path.name
        text = nbformat.writes(want) + "\n"
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(target)
        if not check:
            dst.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    extra = sorted(set(p.name for p in dst.glob("*.ipynb")) - set(p.name for p in sources)) if dst.exists() else []
    for p in stale:
        print(("out of date: " if check else "written: ") + str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p))
    for name in extra:
        print(f"student notebook without an instructor version: {dst / name}")
    return 1 if check and (stale or extra) else 0


def main(argv: list[str]) -> int:
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    src, dst = (Path(args[0]), Path(args[1])) if len(args) == 2 else (SRC, DST)
    try:
        return sync(src, dst, check)
    except MarkerError as err:
        print(f"strip_solutions: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
