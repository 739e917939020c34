"""The book as a product: configuration, Colab cells, reference pages, the appendix, the course edition
without solutions, and the browser check of the rendered pages."""

from __future__ import annotations

import html
import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
sys.path.insert(0, str(ROOT / "tools"))
import colab_cells  # noqa: E402

APPENDIX = ROOT / "book" / "appendix_source_errors.ipynb"


def toc_files() -> list[str]:
    files = [TOC["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(TOC.get("parts", []))
    return files


def source_of(docname: str) -> Path:
    for ext in (".md", ".ipynb"):
        if (ROOT / (docname + ext)).exists():
            return ROOT / (docname + ext)
    raise FileNotFoundError(docname)


def markdown_text(path: Path) -> str:
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return path.read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- configuration


def test_every_notebook_starts_with_an_up_to_date_hidden_colab_cell():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "colab_cells.py"), "--check"], capture_output=True, text=True
    )
    assert proc.returncode == 0, "run `make colab-cells`:\n" + proc.stdout + proc.stderr
    want = colab_cells.cell_source()
    notebooks = list(colab_cells.notebooks())
    assert any(p.parent.name == "notebooks" for p in notebooks)
    for path in notebooks:
        first = nbformat.read(path, as_version=4).cells[0]
        assert first.cell_type == "code" and first.source == want, path
        assert {"colab-install", "remove-cell"} <= set(first.metadata.get("tags", [])), path


def test_repository_url_lives_in_config_and_its_copies_agree():
    repo = CONFIG["repository"]
    url = repo["url"]
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url), url
    assert repo["branch"] == "main" and "path_to_book" in repo
    assert colab_cells.repository_url() == url
    assert f"git+{url}@main" in colab_cells.cell_source()
    import kgan_utils

    assert getattr(kgan_utils, "REPOSITORY_URL", url) == url
    # the README links to the same repository (Colab badges, clone command), never to another one
    for other in re.findall(r"github\.com/([\w.-]+/[\w.-]+?)(?:\.git|/|\)|\s|$)", (ROOT / "README.md").read_text()):
        assert url.endswith(other), f"README links to github.com/{other}, _config.yml says {url}"


def test_book_configuration():
    assert CONFIG["title"] and CONFIG["author"]
    assert (ROOT / CONFIG["logo"]).is_file()
    assert (ROOT / CONFIG["html"]["favicon"]).is_file()
    assert CONFIG["only_build_toc_files"] is True
    assert CONFIG["execute"]["execute_notebooks"] == "off"  # `make book` renders the stored outputs
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    sphinx = CONFIG["sphinx"]
    assert "sphinx_exercise" in sphinx["extra_extensions"]
    assert sphinx["config"]["hide_solutions"] is False  # the course edition switches it on
    # math offline: MathJax is served from the book's _static folder by tools/book_html.py
    assert "://" not in sphinx["config"]["mathjax_path"]
    assert (ROOT / sphinx["local_extensions"]["book_html"] / "book_html.py").is_file()


def test_mathjax_files_come_from_an_installed_package():
    import book_html

    src = book_html.mathjax_source()
    for item in book_html.KEEP:
        assert (src / item).exists(), item
    assert (src / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


def test_makefile_targets():
    text = (ROOT / "Makefile").read_text()
    test_line = re.search(r"^test:(.*)$", text, flags=re.M).group(1).split()
    assert test_line.index("check-html") > test_line.index("book-strict")
    # lint first: it takes seconds and fails on what every later step would show on the page
    assert [t for t in test_line if t not in ("$(STAMP)",)][0] == "lint", test_line
    lint = re.search(r"^lint:.*\n((?:\t.*\n)+)", text, flags=re.M).group(1)
    assert "ruff format --check ." in lint and "ruff check ." in lint, lint
    for target in ("lint:", "book:", "book-execute:", "check-html:", "book-nosolutions:", "assignments:"):
        assert re.search(rf"^{target}", text, flags=re.M), target
    assert "chromium chromium-driver" in text


# ----------------------------------------------------------------------------- table of contents and pages


def test_toc_files_exist_and_reference_pages_are_placed():
    files = toc_files()
    for f in files:
        source_of(f)
    assert files.index("book/how_to_read") < files.index("notebooks/00_setup")
    assert files.index("book/notation") < files.index("notebooks/00_setup")
    appendices = next(p for p in TOC["parts"] if p["caption"] == "Appendices")
    names = [c["file"] for c in appendices["chapters"]]
    for page in ("book/glossary", "book/appendix_source_errors", "book/bibliography"):
        assert page in names


def test_library_names_on_the_reference_pages_exist():
    names = set()
    for page in (ROOT / "book").glob("*.md"):
        names |= set(re.findall(r"`(kgan_utils(?:\.\w+)+)`", page.read_text(encoding="utf-8")))
    assert len(names) >= 20
    missing = []
    for name in sorted(names):
        module, _, attr = name.rpartition(".")
        try:
            obj = importlib.import_module(name)
        except ImportError:
            try:
                obj = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError):
                obj = None
        if obj is None:
            missing.append(name)
    assert not missing, f"named in book/*.md but not in the library: {missing}"


def test_images_of_the_pages_exist_and_are_small():
    for page in (ROOT / "book").glob("*.md"):
        for ref in re.findall(r"(?:\{figure\}|\{image\}|!\[[^\]]*\]\()\s*(images/[\w./-]+)", page.read_text()):
            assert (page.parent / ref).is_file(), (page.name, ref)
    shot = ROOT / "book" / "images" / "screenshot.png"
    assert shot.is_file() and shot.stat().st_size < 400_000
    assert "book/images/screenshot.png" in (ROOT / "README.md").read_text()


# ----------------------------------------------------------------------------- the appendix

CLAIMS = [
    "Université de Montréal",
    "tf.expectation",
    "second term",
    "D(x) - G(z)",
    "softmax",
    "no activation",
    "minimising the Euclidean distance",
    "variable_scope",
    "DeepFace",
    "DeepArt",
    "loss between the generator and the discriminator",
]


def test_appendix_audits_every_claim_with_a_verdict_and_a_demonstration():
    nb = nbformat.read(APPENDIX, as_version=4)
    text = markdown_text(APPENDIX)
    for claim in CLAIMS:
        assert claim in text, claim
    assert not re.search(r"[\u4e00-\u9fff]", "\n".join(c.source for c in nb.cells)), "no text from the articles"
    # every section "## N. ..." states the claim, a verdict, and has a code cell or a citation
    sections, current = [], None
    for cell in nb.cells:
        if cell.cell_type == "markdown" and re.match(r"## \d+\. ", cell.source):
            current = {"md": cell.source, "code": 0}
            sections.append(current)
        elif current is not None:
            if cell.cell_type == "markdown" and cell.source.startswith("## "):
                current = None
            elif cell.cell_type == "markdown":
                current["md"] += "\n" + cell.source
            else:
                current["code"] += 1
    assert len(sections) >= 10
    for s in sections:
        head = s["md"].splitlines()[0]
        assert "**Claim.**" in s["md"], head
        assert re.search(r"\*\*Verdict: (correct|wrong|misleading)", s["md"]), head
        assert s["code"] or "{cite}" in s["md"], head


def test_appendix_is_stored_executed_and_lean():
    nb = nbformat.read(APPENDIX, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"][1:]
    assert all(c.execution_count is not None for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert sum("NBVAL_CHECK_OUTPUT" in c.source for c in code) >= 3
    assert APPENDIX.stat().st_size < 1_500_000


# ----------------------------------------------------------------------------- the course edition

FENCE_OPEN = re.compile(r"^(?P<fence>:{3,}|`{3,})\{(?P<kind>exercise|solution|solution-start)\}")
GATE_END = re.compile(r"^(:{3,}|`{3,})\{solution-end\}")
TOKEN_OK = re.compile(r"^[A-Za-z]+[,;:?!.]?$")


def directive_blocks(text: str):
    """(kind, body) of every {exercise} and {solution} directive of a MyST text.

    A gated solution (``{solution-start}`` ... ``{solution-end}``, cells in between) is a solution whose body runs
    to its end marker."""
    lines, i, blocks = text.split("\n"), 0, []
    while i < len(lines):
        m = FENCE_OPEN.match(lines[i].strip())
        if m and m.group("kind") == "solution-start":
            body = []
            i += 1
            while i < len(lines) and not GATE_END.match(lines[i].strip()):
                if not re.match(r"^\s*(:\w[\w-]*:|:{3,}\s*$)", lines[i]):
                    body.append(lines[i])
                i += 1
            blocks.append(("solution", "\n".join(body)))
        elif m:
            fence, body = m.group("fence"), []
            i += 1
            while i < len(lines) and lines[i].strip() != fence:
                if not re.match(r"^\s*:\w[\w-]*:", lines[i]):  # directive options (:label:, :class:)
                    body.append(lines[i])
                i += 1
            blocks.append((m.group("kind"), "\n".join(body)))
        i += 1
    return blocks


def probes(body: str, n_words: int = 6, per_block: int = 3) -> list[str]:
    """Runs of plain words of a block that survive rendering verbatim (no code, math or markup)."""
    clean = re.sub(r"```.*?```", " | ", body, flags=re.S)
    clean = re.sub(r"\$\$.*?\$\$", " | ", clean, flags=re.S)
    clean = re.sub(r"\$[^$]*\$|`[^`]*`|\[[^\]]*\]\([^)]*\)|[*_{}<>]", " | ", clean)
    out, run = [], []
    for tok in clean.split() + ["|"]:
        if TOKEN_OK.match(tok) and not (run and run[-1][-1] in ".?!"):
            run.append(tok)
            continue
        if len(run) >= n_words:
            out.append(" ".join(run[:n_words]))
        run = [tok] if TOKEN_OK.match(tok) else []
    return out[:per_block]


def visible_text(page_html: str) -> str:
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", page_html, flags=re.S | re.I)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    text = re.sub(r"\s+", " ", text)
    return re.sub(r"\s+([,;:?!.])", r"\1", text)


def normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def course_edition(tmp_path_factory):
    """Build the course edition once with `make book-nosolutions` (the same command users run)."""
    if shutil.which("make") is None:
        pytest.skip("make is not available")
    out = tmp_path_factory.mktemp("nosolutions")
    stamp = out / "stamp"  # the environment is make test's business; do not reinstall from here
    stamp.touch()
    proc = subprocess.run(
        ["make", "-s", "book-nosolutions", f"NOSOL={out}", f"STAMP={stamp}", f"BIN={Path(sys.executable).parent}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out / "html"


def test_course_edition_has_no_solutions(course_edition):
    html_dir = course_edition
    pages_with_solutions, n_solution_probes, n_exercise_hits = 0, 0, 0
    all_text = {
        p: visible_text(p.read_text(encoding="utf-8", errors="replace"))
        for p in html_dir.rglob("*")
        if p.is_file() and "_static" not in p.parts and p.suffix in (".html", ".js", ".txt", ".ipynb", ".md", ".json")
    }
    for docname in toc_files():
        src = source_of(docname)
        text = markdown_text(src)
        blocks = directive_blocks(text)
        solutions = [b for k, b in blocks if k == "solution"]
        exercises = [b for k, b in blocks if k == "exercise"]
        if not solutions:
            continue
        pages_with_solutions += 1
        page = html_dir / (docname + ".html")
        page_text = visible_text(page.read_text(encoding="utf-8"))
        assert not re.search(r'class="[^"]*\bsolution\b', page.read_text(encoding="utf-8")), page
        rest = normalised(text)
        for body in solutions:
            rest = rest.replace(normalised(body), " ")
        for body in solutions:
            for probe in probes(body):
                if probe in rest:  # the same words also appear outside the solution
                    continue
                n_solution_probes += 1
                for path, t in all_text.items():
                    assert probe not in t, f"solution text {probe!r} of {docname} appears in {path}"
        # positive control: the exercises (rendered from the same markdown) are there and found
        found = [p for body in exercises for p in probes(body) if p in page_text]
        assert found or not exercises, f"no exercise text of {docname} found in {page}: is the matching broken?"
        n_exercise_hits += len(found)
    assert pages_with_solutions >= 1 and n_solution_probes >= 1 and n_exercise_hits >= 1
    assert not (html_dir / "_sources").exists(), "the notebook sources (with solutions) must not be copied"
    assert not list(html_dir.rglob("*.ipynb"))


# ----------------------------------------------------------------------------- the browser check itself

HAVE_BROWSER = Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()


@pytest.mark.skipif(not HAVE_BROWSER, reason="chromium/chromedriver not installed (make check-html installs them)")
def test_check_html_reports_broken_pages(tmp_path):
    pytest.importorskip("selenium")
    (tmp_path / "index.html").write_text(
        "<html><head><title>ok</title><link rel='icon' href='data:,'></head>"
        "<body><main><p>A fine page.</p></main></body></html>"
    )
    (tmp_path / "bad.html").write_text(
        "<html><head><title>bad</title><link rel='icon' href='data:,'></head><body><main>"
        "<p>Untypeset <span class='math notranslate'>\\(x^2\\)</span> and raw $\\alpha + 1$.</p>"
        "<img src='missing.png'><img src='https://example.com/a.png'>"
        "<script>console.error('boom')</script></main></body></html>"
    )
    cmd = [sys.executable, str(ROOT / "tools" / "check_html.py"), str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "ok   index.html" in proc.stdout and "FAIL bad.html" in proc.stdout, proc.stdout
    for words in (
        "image did not load: http://127.0.0.1",
        "math not typeset",
        "TeX source in the text",
        "console error",
        "boom",
        "outside the book: https://example.com/a.png",
        "2 pages checked",
        "FAILED on 1 page(s): bad.html",
    ):
        assert words in proc.stdout + proc.stderr, (words, proc.stdout)


@pytest.mark.skipif(not HAVE_BROWSER, reason="chromium/chromedriver not installed (make check-html installs them)")
def test_check_html_reports_wide_content_a_late_title_and_test_markers(tmp_path):
    """Pages shaped like the book's (an article of the content column's width) with what check_html must catch."""
    pytest.importorskip("selenium")
    sys.path.insert(0, str(ROOT / "tools"))
    import check_html

    head = "<html><head><title>{}</title><link rel='icon' href='data:,'></head><body><main>"
    article = (
        "<article class='bd-article' style='box-sizing: border-box; padding: 0 32px; "
        f"width: {check_html.COLUMN_PX + 64}px'>"
    )
    (tmp_path / "index.html").write_text(
        head.format("ok") + article + "<section><h1>Title</h1><p>Fits.</p>"
        "<div class='cell_output'><pre style='overflow: auto'>" + "x" * 40 + "</pre></div>"
        "</section></article></main></body></html>"
    )
    (tmp_path / "bad.html").write_text(
        head.format("bad") + article + "<div class='cell'><details><summary>Show code cell source</summary>"
        "<pre># NBVAL_CHECK_OUTPUT</pre></details></div><section><h1>Title</h1>"
        "<div class='cell_output'><pre style='overflow: auto; font: 14px monospace'>" + "y" * 150 + "</pre></div>"
        "<div style='overflow-x: auto'><table><tr><td style='white-space: nowrap'>" + "wide cell " * 30 + "</td>"
        "</tr></table></div><p>The marker NBVAL_CHECK_OUTPUT in the text.</p></section></article></main></body></html>"
    )
    cmd = [sys.executable, str(ROOT / "tools" / "check_html.py"), str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "ok   index.html" in out and "FAIL bad.html" in out, out
    for words in (
        "output wider than its column: content",
        "table wider than its column",
        "the page does not open with its title",
        "Show code cell source",
        "NBVAL_CHECK_OUTPUT shown on the page",
        f"widest: output {check_html.COLUMN_PX} px in a {check_html.COLUMN_PX}-px column",
    ):
        assert words in out, (words, out)


# ----------------------------------------------------------------------------- tools/book_html.py


def test_nbval_markers_are_removed_from_the_cell_sources_of_the_page():
    import book_html
    from docutils import nodes
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser
    from docutils.utils import new_document

    doc = new_document("<test>", get_default_settings(Parser))
    marked = "# NBVAL_CHECK_OUTPUT\nprint(round(1 / 3, 4))"
    cell_input = nodes.container(nb_element="cell_code_source", classes=["cell_input"])
    cell_input += nodes.literal_block(marked, marked)
    prose_block = nodes.literal_block(marked, marked)  # a code block of a markdown page: not a notebook cell
    doc += [cell_input, prose_block]
    assert book_html.strip_nbval_markers(doc) == 1
    assert cell_input.astext() == "print(round(1 / 3, 4))"
    assert prose_block.astext() == marked
    # the notebooks keep the marker, so nbval still compares those cells
    nb = nbformat.read(APPENDIX, as_version=4)
    assert any(c.source.startswith("# NBVAL_CHECK_OUTPUT\n") for c in nb.cells if c.cell_type == "code")
    assert book_html.strip_marker_lines("#  NBVAL_IGNORE_OUTPUT  \r\nx = 1\n") == "x = 1\n"


def test_bibliography_lists_use_author_year_labels():
    import book_html
    from pybtex.database import parse_file
    from pybtex.plugin import find_plugin

    book_html.register_citation_style()
    config = CONFIG["sphinx"]["config"]
    assert config["bibtex_reference_style"] == "author_year"
    assert config["bibtex_default_style"] == "kgan_author_year"
    style = find_plugin("pybtex.style.formatting", config["bibtex_default_style"])()
    entries = list(parse_file(str(ROOT / CONFIG["bibtex_bibfiles"][0])).entries.values())
    sorted_entries = list(style.sort(entries))
    labels = list(style.format_labels(sorted_entries))
    assert len(labels) == len(set(labels)) == len(entries) >= 20
    for label in labels:
        assert re.fullmatch(r"[^\W\d][^,]*, (\d{4}[a-z]?|n\.d\.)", label), label  # "Author et al., 2012"
    by_key = dict(zip((e.key for e in sorted_entries), labels))
    assert by_key["gretton2012"] == "Gretton et al., 2012"  # was "GBR+12" with the alpha labels
    assert by_key["rahimi2007"] == "Rahimi and Recht, 2007"
    first_authors = [e.persons["author"][0].last_names[0] for e in sorted_entries if "author" in e.persons]
    assert first_authors[0] <= first_authors[-1]  # sorted by author, as an author-year list is
