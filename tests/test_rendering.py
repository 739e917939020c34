"""How every stored notebook renders in the book, checked on the stored outputs (nothing is executed).

The book renders the outputs stored in the notebooks (``execute_notebooks: "off"``), so what a reader sees is
decided here, by the ``.ipynb`` files. Each check below is a rule of the book's rendering; each fails with the
notebook, the cell (index, id and first line) and the measured value:

``tall``         no output taller than ``MAX_LINES`` lines: per code cell the stream text (merged per cell as
                 the book does, ``nb_merge_streams``), each text/plain-only output, and each HTML output
                 (``<tr>`` rows). Long logs: ``verbose=0``/``2`` and a summary. A cell may opt out only with a
                 ``scroll-output`` or ``hide-output`` tag *and* a reason in its metadata
                 (``"rendering_reason": "why this output is long"``).
``wide``         no stored text line wider than ``MAX_COLUMNS`` characters (streams and text/plain).
``text_table``   no fixed-width text table (three or more consecutive lines cut into three or more columns
                 by runs of two spaces, or a pandas DataFrame shown as text): tables are HTML,
                 ``display(df)``.
``figures``      every stored PNG at ``MIN_DPI`` dpi or more (the pHYs chunk matplotlib writes) and at most
                 ``COLUMN_PX`` pixels wide, the width of the content column of a rendered page in the window
                 ``tools/check_html.py`` uses, so that it is never scaled down; other images (GIF) only the
                 width.
``errors``       no error output (traceback).
``tf_logs``      no TensorFlow/absl/CUDA log line in any output, hidden cells included.
``title_first``  the first cell after the Colab install cell is the title (a markdown ``# `` heading), so a
                 page never opens with a "Show code cell source" button above its title.
``font_sizes``   figure code never sets a font size below ``MIN_FONT_PT`` (``fontsize=7``,
                 ``"x-small"``, ...) nor overrides ``figure.dpi`` (the book style,
                 ``kgan_utils.plotting.use_book_style``, sets both).
``code_width``   code lines at most ``MAX_COLUMNS`` characters (ruff checks it too: this says which cell).

Outputs of cells tagged ``remove-output``, ``remove-cell`` or ``remove-stderr`` (stderr only) are not on the
page and are exempt from ``tall``, ``wide`` and ``text_table``, never from ``errors`` and ``tf_logs``.

Command line, for one notebook or a folder (exit status 1 when a check fails)::

    python tests/test_rendering.py notebooks/03_mmd.ipynb
    python tests/test_rendering.py notebooks book --check tall wide

prints every problem and, per check, the worst value found.
"""

from __future__ import annotations

import argparse
import copy
import functools
import io
import re
import struct
import sys
from base64 import b64decode
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]

MAX_LINES = 40  # the tallest output on a page, in lines
MAX_COLUMNS = 88  # the widest text line (outputs and code), in characters
MIN_DPI = 100  # figures: kgan_utils.plotting.use_book_style() saves at 100 dpi
MIN_FONT_PT = 9  # the smallest font size figure code may ask for
# The content column of a rendered page (article text, outputs, figures) in headless Chromium at the window
# tools/check_html.py uses (1280x900): 676 px, measured by check_html on every page (`--measure` prints it).
sys.path.insert(0, str(ROOT / "tools"))
from check_html import COLUMN_PX  # noqa: E402

OPT_OUT_TAGS = ("scroll-output", "hide-output")
REASON_KEY = "rendering_reason"
HIDDEN_OUTPUT_TAGS = ("remove-output", "remove-cell")

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TF_LOG = re.compile(
    r"oneDNN|TF_ENABLE_ONEDNN_OPTS|absl|^\s*[IWEF]\d{4} \d\d:\d\d:\d\d|I0000|E0000|W0000"
    r"|WARNING: All log messages|tensorflow/core/|tensorflow/compiler/|xla/|cuda_\w+\.cc|cuInit|"
    r"Unable to register cu(?:DNN|FFT|BLAS)|could not find cuda|TensorFlow binary is optimized|"
    r"computation placer already registered|This TensorFlow binary|StreamExecutor|TF-TRT",
    re.M,
)
# named font sizes below 9 pt with the book's 10 pt base font
SMALL_NAMES = ("xx-small", "x-small", "small", "smaller")
FONT_KW = re.compile(r"\b(\w*fontsize|labelsize|titlesize|size)\s*=\s*([\"'][\w-]+[\"']|[\d.]+)")
FONT_RC = re.compile(
    r"[\"']((?:font\.size|[\w.]*fontsize|[\w.]*labelsize|[\w.]*titlesize|size))[\"']\s*[:,]\s*"
    r"([\"'][\w-]+[\"']|[\d.]+)"
)
DPI_OVERRIDE = re.compile(r"figure\.dpi|\.set_dpi\(|\b(?:subplots|figure|subplot_mosaic)\([^)]*\bdpi\s*=")
PANDAS_TEXT = re.compile(r"^\[\d+ rows x \d+ columns\]$|^\s*\w*\s{2,}\S+\s{2,}\S+.*\n\s*0\s{2,}", re.M)
ARRAY_LINE = re.compile(r"^\s*(\[|array\(|tensor\(|tf\.Tensor\()")


@dataclass
class Problem:
    check: str
    notebook: str
    cell: int
    cell_id: str
    value: float
    message: str

    def __str__(self) -> str:
        return f"{self.notebook} cell {self.cell} (id {self.cell_id}): {self.message}"


# ----------------------------------------------------------------------------- helpers


def notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "book").glob("*.ipynb"))


def rel(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def first_line(cell) -> str:
    lines = cell.source.strip().splitlines()
    return (lines[0][:60] if lines else "").strip()


def text_of(value) -> str:
    return "".join(value) if isinstance(value, list) else (value or "")


def lines_of(text: str) -> list[str]:
    """The lines a browser shows for a stored text (CR alone breaks a line in HTML too)."""
    text = ANSI.sub("", text).rstrip("\n")
    return re.split(r"\r\n|\r|\n", text) if text else []


def merged_streams(cell) -> list[tuple[str, str]]:
    """(name, text) of the stream outputs of a cell, merged as the book renders them (nb_merge_streams)."""
    from myst_nb.core.utils import coalesce_streams

    outputs = coalesce_streams(copy.deepcopy([o for o in cell.get("outputs", []) if o.output_type == "stream"]))
    return [(o["name"], text_of(o["text"])) for o in outputs]


def shown_streams(cell) -> list[tuple[str, str]]:
    t = tags(cell)
    if t & set(HIDDEN_OUTPUT_TAGS):
        return []
    return [(n, s) for n, s in merged_streams(cell) if not (n == "stderr" and "remove-stderr" in t)]


def rich_outputs(cell):
    return [o for o in cell.get("outputs", []) if o.output_type in ("execute_result", "display_data")]


def png_info(data: bytes) -> tuple[int, int, float | None]:
    """(width, height, dpi or None) of a PNG, read from its header and pHYs chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    pos, dpi = 8, None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"pHYs":
            px, py, unit = struct.unpack(">IIB", data[pos + 8 : pos + 17])
            dpi = px * 0.0254 if unit == 1 else None
        if kind in (b"IDAT", b"IEND"):
            break
        pos += 12 + length
    return width, height, dpi


def image_width(data: bytes) -> int:
    from PIL import Image

    return Image.open(io.BytesIO(data)).size[0]


def table_like(lines: list[str]) -> list[str]:
    """The first run of three or more lines that reads as a fixed-width table, else []."""
    run: list[str] = []
    for line in lines + [""]:
        cols = [c for c in re.split(r"\s{2,}|\t", line.strip()) if c]
        if len(cols) >= 3 and not ARRAY_LINE.match(line):
            run.append(line)
            continue
        if len(run) >= 3:
            return run
        run = []
    return []


def problem(check, path, i, cell, value, message) -> Problem:
    return Problem(check, rel(path), i, cell.get("id", "?"), value, f"{message}  [{first_line(cell)!r}]")


# ----------------------------------------------------------------------------- the checks
# Each takes (path, notebook) and returns (problems, worst value for the report).


def check_tall(path, nb):
    out, worst = [], 0
    for i, cell in enumerate(nb.cells):
        t = tags(cell)
        if cell.cell_type != "code":
            continue
        opted = bool(t & set(OPT_OUT_TAGS))
        reason = str(cell.metadata.get(REASON_KEY, "")).strip()
        if opted and len(reason) < 10:
            out.append(
                problem(
                    "tall",
                    path,
                    i,
                    cell,
                    0,
                    f"tag {sorted(t & set(OPT_OUT_TAGS))} without a reason: add metadata "
                    f'"{REASON_KEY}": "why this output is long"',
                )
            )
        if t & set(HIDDEN_OUTPUT_TAGS):
            continue
        heights = []
        n_stream = sum(len(lines_of(s)) for _, s in shown_streams(cell))
        if n_stream:
            heights.append((n_stream, "printed text"))
        for o in rich_outputs(cell):
            data = o.get("data", {})
            if "text/html" in data:
                rows = len(re.findall(r"<tr[\s>]", text_of(data["text/html"]), flags=re.I))
                heights.append((rows, "HTML table rows"))
            elif set(data) <= {"text/plain"}:
                heights.append((len(lines_of(text_of(data.get("text/plain", "")))), "text/plain output"))
        for h, what in heights:
            worst = max(worst, h)
            if h > MAX_LINES and not (opted and reason):
                out.append(problem("tall", path, i, cell, h, f"{h} lines of {what} (at most {MAX_LINES})"))
    return out, worst


def shown_texts(cell):
    """The text outputs of a cell that are on the page: streams and text/plain-only results."""
    texts = [s for _, s in shown_streams(cell)]
    if not tags(cell) & set(HIDDEN_OUTPUT_TAGS):
        for o in rich_outputs(cell):
            data = o.get("data", {})
            if set(data) <= {"text/plain"}:
                texts.append(text_of(data.get("text/plain", "")))
    return texts


def check_wide(path, nb):
    out, worst = [], 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        lines = [line.expandtabs() for s in shown_texts(cell) for line in lines_of(s)]
        if not lines:
            continue
        w = max(len(line) for line in lines)
        worst = max(worst, w)
        if w > MAX_COLUMNS:
            longest = max(lines, key=len)
            out.append(problem("wide", path, i, cell, w, f"text line of {w} characters: {longest[:70]!r}..."))
    return out, worst


def check_text_table(path, nb):
    out, worst = [], 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for text in shown_texts(cell):
            lines = lines_of(text)
            run = table_like(lines)
            pandas = PANDAS_TEXT.search(ANSI.sub("", text)) and not run
            if run or pandas:
                worst = max(worst, len(run) or 1)
                shown = run[0] if run else lines[0]
                out.append(
                    problem(
                        "text_table",
                        path,
                        i,
                        cell,
                        len(run),
                        f"a fixed-width text table ({len(run)} lines like {shown.strip()[:60]!r}): "
                        "show a pandas DataFrame with display(df)",
                    )
                )
                break
    return out, worst


def check_figures(path, nb):
    out, worst = [], {"min_dpi": None, "max_width_px": 0, "n": 0}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for o in rich_outputs(cell):
            for mime, b64 in o.get("data", {}).items():
                if not mime.startswith("image/") or mime == "image/svg+xml":
                    continue
                data = b64decode(text_of(b64))
                shown_width = (o.get("metadata", {}).get(mime) or {}).get("width")
                if mime == "image/png":
                    width, _, dpi = png_info(data)
                    worst["n"] += 1
                    d = round(dpi) if dpi else 0
                    worst["min_dpi"] = d if worst["min_dpi"] is None else min(worst["min_dpi"], d)
                    if d < MIN_DPI:
                        out.append(problem("figures", path, i, cell, d, f"figure at {d} dpi (at least {MIN_DPI})"))
                else:
                    width = image_width(data)
                width = int(shown_width or width)
                worst["max_width_px"] = max(worst["max_width_px"], width)
                if width > COLUMN_PX:
                    out.append(
                        problem(
                            "figures",
                            path,
                            i,
                            cell,
                            width,
                            f"{mime} {width} px wide: the column is {COLUMN_PX} px, the page would shrink "
                            f"it (at 100 dpi, figsize width at most {COLUMN_PX / 100:.2f} in after "
                            "bbox_inches='tight')",
                        )
                    )
    return out, worst


def check_errors(path, nb):
    out = []
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            if o.output_type == "error":
                out.append(problem("errors", path, i, cell, 1, f"stored error: {o.get('ename')}: {o.get('evalue')}"))
    return out, len(out)


def check_tf_logs(path, nb):
    out = []
    for i, cell in enumerate(nb.cells):
        texts = [text_of(o.get("text")) for o in cell.get("outputs", []) if o.output_type == "stream"]
        texts += [text_of(o.get("data", {}).get("text/plain")) for o in rich_outputs(cell)]
        hits = [line for t in texts for line in lines_of(t) if TF_LOG.search(line)]
        if hits:
            out.append(
                problem(
                    "tf_logs", path, i, cell, len(hits), f"{len(hits)} TensorFlow/absl log line(s): {hits[0][:80]!r}"
                )
            )
    return out, sum(p.value for p in out)


def check_title_first(path, nb):
    cells = [c for c in nb.cells if "colab-install" not in tags(c)]
    if not cells:
        return [Problem("title_first", rel(path), 0, "?", 1, "no cells")], 1
    i = nb.cells.index(cells[0])
    first = cells[0]
    if first.cell_type == "markdown" and re.match(r"# \S", first.source.lstrip()):
        return [], 0
    return [
        problem(
            "title_first",
            path,
            i,
            first,
            1,
            "the first cell after the Colab install cell is not the title (a markdown '# ' heading): "
            "the page would open with it above its title",
        )
    ], 1


def small_font(value: str) -> str | None:
    v = value.strip("\"'")
    if v in SMALL_NAMES:
        return v
    try:
        return v if float(v) < MIN_FONT_PT else None
    except ValueError:
        return None


def check_font_sizes(path, nb):
    out, worst = [], None
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for lineno, line in enumerate(cell.source.splitlines(), 1):
            code = line.split("#", 1)[0]
            for m in list(FONT_KW.finditer(code)) + list(FONT_RC.finditer(code)):
                key, value = m.group(1), m.group(2)
                if key == "size" and not re.search(r"font|prop|text|annot|label|title|legend", code, re.I):
                    continue  # size= of something else (a sample size, a batch size)
                bad = small_font(value)
                if bad is not None:
                    try:
                        worst = float(bad) if worst is None else min(worst, float(bad))
                    except ValueError:
                        worst = bad if worst is None else worst
                    out.append(
                        problem(
                            "font_sizes",
                            path,
                            i,
                            cell,
                            0,
                            f"line {lineno}: {m.group(0)!r} is below {MIN_FONT_PT} pt",
                        )
                    )
            if DPI_OVERRIDE.search(code):
                out.append(
                    problem(
                        "font_sizes",
                        path,
                        i,
                        cell,
                        0,
                        f"line {lineno}: overrides the figure dpi ({code.strip()[:60]!r}); use_book_style() sets it",
                    )
                )
    return out, worst


def check_code_width(path, nb):
    out, worst = [], 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "remove-cell" in tags(cell):
            continue
        long = [(n, len(line)) for n, line in enumerate(cell.source.splitlines(), 1) if len(line) > MAX_COLUMNS]
        worst = max([worst] + [len(line) for line in cell.source.splitlines()])
        if long:
            where = ", ".join(f"line {n}: {w}" for n, w in long)
            w = max(w for _, w in long)
            out.append(problem("code_width", path, i, cell, w, f"code lines over {MAX_COLUMNS} characters ({where})"))
    return out, worst


CHECKS = {
    "tall": check_tall,
    "wide": check_wide,
    "text_table": check_text_table,
    "figures": check_figures,
    "errors": check_errors,
    "tf_logs": check_tf_logs,
    "title_first": check_title_first,
    "font_sizes": check_font_sizes,
    "code_width": check_code_width,
}


def run_checks(paths: list[Path], checks=None) -> tuple[list[Problem], dict]:
    """All problems of the given notebooks, and per check the worst value over them."""
    problems, worst = [], {}
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        for name in checks or CHECKS:
            found, w = CHECKS[name](path, nb)
            problems += found
            worst.setdefault(name, []).append((rel(path), w))
    return problems, worst


def summary(worst: dict) -> list[str]:
    lines = []
    for name, values in worst.items():
        if name == "figures":
            dpis = [(w["min_dpi"], p) for p, w in values if w["min_dpi"] is not None]
            widths = [(w["max_width_px"], p) for p, w in values]
            n = sum(w["n"] for _, w in values)
            lines.append(
                f"  figures      {n} PNG; lowest dpi {min(dpis)[0] if dpis else '-'} "
                f"({min(dpis)[1] if dpis else ''}); widest image {max(widths)[0]} px ({max(widths)[1]})"
            )
            continue
        numeric = [(v, p) for p, v in values if isinstance(v, (int, float))]
        if name == "font_sizes":
            small = [(v, p) for p, v in values if v is not None]
            v, p = (
                min(small, key=lambda x: float(x[0]) if isinstance(x[0], (int, float)) else 0.0) if small else (0, "")
            )
            text = f"smallest font size asked {v} ({p})" if small else f"none below {MIN_FONT_PT} pt"
        elif numeric:
            v, p = max(numeric)
            text = f"worst {v} ({p})" if v else "none"
        else:
            text = "-"
        lines.append(f"  {name:<12} {text}")
    return lines


# ----------------------------------------------------------------------------- pytest


@functools.lru_cache(maxsize=None)
def read_notebook(path: Path):
    """Each notebook read once for all its checks (the checks do not modify it)."""
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_rendering(path, check):
    found, _ = CHECKS[check](path, read_notebook(path))
    assert not found, f"{len(found)} problem(s):\n" + "\n".join(str(p) for p in found[:20])


def test_every_book_notebook_is_checked():
    names = {p.name for p in notebooks()}
    assert len(names) >= 9 and "appendix_source_errors.ipynb" in names


def fake_notebook(tmp_path, cells) -> Path:
    nb = nbformat.v4.new_notebook()
    colab = nbformat.v4.new_code_cell("# On Colab: install kgan_utils")
    colab.metadata["tags"] = ["colab-install", "remove-cell"]
    nb.cells = [colab, nbformat.v4.new_markdown_cell("# Title")] + cells
    path = tmp_path / "fake.ipynb"
    nbformat.write(nb, path)
    return path


def code_cell(source="x = 1", outputs=(), **metadata):
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = list(outputs)
    cell.metadata.update(metadata)
    return cell


def stream(text, name="stdout"):
    return nbformat.v4.new_output("stream", name=name, text=text)


def png_bytes(width_in: float, dpi: int) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(width_in, 1))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def image_output(data: bytes):
    import base64

    return nbformat.v4.new_output(
        "display_data", data={"image/png": base64.b64encode(data).decode(), "text/plain": "<Figure>"}
    )


def test_the_checks_catch_what_they_are_for(tmp_path):
    """Each check fails on a small notebook made to break it, and passes on a clean one."""
    bad = [
        code_cell("for i in range(50): print(i)", [stream("".join(f"{i}\n" for i in range(25)))] * 2),
        code_cell("print('a' * 100)", [stream("a" * 100 + "\n")]),
        code_cell("print(table)", [stream("name   FID   KID\nGAN    12.0  0.1\nWGAN   10.0  0.2\n")]),
        code_cell("raise ValueError", [nbformat.v4.new_output("error", ename="ValueError", evalue="x", traceback=[])]),
        code_cell("import tensorflow", [stream("I0000 00:00:1 oneDNN custom operations are on\n", "stderr")]),
        code_cell('ax.set_title("t", fontsize=7)\nplt.legend(fontsize="x-small")\nplt.rcParams["figure.dpi"] = 72'),
        code_cell("y = " + "1 + " * 30 + "1"),
        code_cell("fig", [image_output(png_bytes(5, 72)), image_output(png_bytes(8, 100))]),
        code_cell("long()", [stream("x\n" * 60)], tags=["scroll-output"]),
    ]
    path = fake_notebook(tmp_path, bad)
    problems, _ = run_checks([path])
    by_check = {}
    for p in problems:
        by_check.setdefault(p.check, []).append(p)
    assert set(by_check) == set(CHECKS) - {"title_first"}, sorted(by_check)
    assert [p.value for p in by_check["tall"]] == [50, 0, 60]  # a tag without a reason opts nothing out
    assert sorted(p.value for p in by_check["figures"]) == [72, 800]
    assert len(by_check["font_sizes"]) == 3

    good = [
        code_cell("print(1)", [stream("1\n" * 30), stream("2\n" * 5)]),
        code_cell('ax.set_title("t", fontsize=10)\nn = sample(size=3)', [image_output(png_bytes(6, 100))]),
        code_cell("log()", [stream("x\n" * 60)], tags=["scroll-output"], rendering_reason="the full log, on request"),
        code_cell("print(arr)", [stream("[[0.1  0.2  0.3]\n [0.1  0.2  0.3]\n [0.1  0.2  0.3]]\n")]),
        code_cell("hidden()", [stream("y" * 200 + "\n")], tags=["remove-output"]),
    ]
    problems, _ = run_checks([fake_notebook(tmp_path, good)])
    assert not problems, "\n".join(map(str, problems))


def test_title_first_fails_on_a_code_cell_above_the_title(tmp_path):
    path = fake_notebook(tmp_path, [])
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(1, code_cell("import os", tags=["hide-input"]))
    nbformat.write(nb, path)
    problems, _ = run_checks([path], ["title_first"])
    assert len(problems) == 1 and problems[0].cell == 1


# ----------------------------------------------------------------------------- command line


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", help="notebooks or folders (default: every notebook of the book)")
    ap.add_argument("--check", nargs="*", choices=list(CHECKS), help="only these checks")
    args = ap.parse_args(argv)
    paths: list[Path] = []
    for p in map(Path, args.paths):
        paths += sorted(p.glob("*.ipynb")) if p.is_dir() else [p]
    paths = paths or notebooks()
    problems, worst = run_checks(paths, args.check)
    for name in args.check or CHECKS:
        mine = [p for p in problems if p.check == name]
        print(f"{name}: {'ok' if not mine else f'{len(mine)} problem(s)'}")
        for p in mine:
            print(f"  - {p}")
    print("worst values:")
    print("\n".join(summary(worst)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
