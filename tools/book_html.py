"""Sphinx extension with the book's HTML fixes (enabled in ``_config.yml``, ``sphinx.local_extensions``).

1. **MathJax served by the book**, so math renders without internet. The MathJax 3.2.2 files come from the pip
   package ``sphinx-mathjax-offline`` (a dependency of the book). That package's own extension copies all 24 MB
   of MathJax into every build; this one copies only what the CommonHTML TeX renderer loads (the
   ``tex-chtml.js`` bundle, its woff fonts, the TeX extensions that ``autoload`` may fetch, and the
   menu/accessibility modules), about 3 MB, into ``_static/mathjax``. ``_config.yml`` sets
   ``mathjax_path: mathjax/tex-chtml.js``.
2. **Each script once per page.** With this Sphinx/sphinx-thebe pair the inline script that declares
   ``const THEBE_JS_URL`` is added twice, and browsers report "Identifier 'THEBE_JS_URL' has already been
   declared" on every page. Identical script entries are dropped.

3. **No test markers on the page.** Cells whose output nbval compares start with the comment
   ``# NBVAL_CHECK_OUTPUT`` (any ``# NBVAL_...`` marker). The notebooks keep it, so nbval still compares those
   cells; the rendered page drops the line from the cell's source block (a ``doctree-read`` handler over
   myst-nb's cell input containers, :func:`strip_nbval_markers`).
4. **Code that fits its column.** Code blocks and cell outputs are set at 12 px with 8 px side padding, so
   that 88 columns (the book's line length, ruff's ``line-length`` for notebooks) fit the content column of a page
   at a 1280-px-wide window (676 px; 654 px in a hidden-input box). At the theme's 14 px only about 74 fit.
5. **Author-year citations everywhere.** ``bibtex_reference_style: author_year`` makes the citations in the
   text read "Gretton et al., 2012"; the pybtex style ``kgan_author_year`` registered here gives the
   bibliography lists the same labels instead of the alpha labels ("[GBR+12]"), sorted by author and year
   (``bibtex_default_style: kgan_author_year`` in ``_config.yml``).

6. **Gated solutions in the course edition.** With ``hide_solutions: true`` sphinx-exercise drops a
   ``{solution-start}`` but keeps its ``{solution-end}`` (the build then fails on an unknown node) and would keep
   the cells between them. Here the start is kept as a marker, sphinx-exercise merges the gated cells into one
   solution, and that solution is removed (:class:`RemoveHiddenSolutions`).

``tools/check_html.py`` checks these in a browser.
"""

from __future__ import annotations

import re
import shutil
from importlib import metadata
from pathlib import Path

from docutils import nodes

PACKAGE = "sphinx-mathjax-offline"
KEEP = ("tex-chtml.js", "output/chtml", "input/tex/extensions", "ui", "a11y")


def mathjax_source() -> Path:
    """Folder of the MathJax 3 distribution inside the installed pip package."""
    try:
        dist = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError:
        raise RuntimeError(
            f"The book serves MathJax locally from the pip package {PACKAGE!r}; "
            f"install it with `pip install {PACKAGE}` (make book does)."
        ) from None
    root = Path(dist.locate_file("sphinx-mathjax-offline/static/mathjax"))
    if not (root / "tex-chtml.js").is_file():
        raise RuntimeError(f"MathJax files not found in {root}.")
    return root


def copy_mathjax(app, exc):
    if exc is not None or app.builder.format != "html":
        return
    src, dst = mathjax_source(), Path(app.outdir) / "_static" / "mathjax"
    for item in KEEP:
        s, d = src / item, dst / item
        if s.is_dir():
            shutil.copytree(s, d, dirs_exist_ok=True)
        else:
            d.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, d)


def dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        attrs = getattr(js, "attributes", {}) or {}
        # an inline script appears once with filename None and once with filename ""
        key = (str(getattr(js, "filename", js) or ""), tuple(sorted((k, str(v)) for k, v in attrs.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


# ----------------------------------------------------------------------------- 3. NBVAL markers

NBVAL_LINE = re.compile(r"^[ \t]*#[ \t]*NBVAL_[A-Z_]+[ \t]*(?:\r?\n|$)", re.M)


def strip_marker_lines(source: str) -> str:
    r"""``source`` without its ``# NBVAL_...`` comment lines.

    >>> strip_marker_lines("# NBVAL_CHECK_OUTPUT\nprint(1)")
    'print(1)'
    >>> strip_marker_lines("x = 1  # NBVAL_CHECK_OUTPUT stays: not a line of its own")
    'x = 1  # NBVAL_CHECK_OUTPUT stays: not a line of its own'
    """
    return NBVAL_LINE.sub("", source)


def is_cell_source(node) -> bool:
    return isinstance(node, nodes.container) and node.get("nb_element") == "cell_code_source"


def strip_nbval_markers(doctree) -> int:
    """Drop the ``# NBVAL_...`` lines from the code-cell source blocks of a doctree; returns how many blocks."""
    n = 0
    for container in doctree.findall(is_cell_source):
        for block in container.findall(nodes.literal_block):
            text = block.astext()
            new = strip_marker_lines(text)
            if new != text:
                block.children = [nodes.Text(new)]
                block.rawsource = new
                n += 1
    return n


def on_doctree_read(app, doctree):
    strip_nbval_markers(doctree)


# ----------------------------------------------------------------------------- 4. code width

CSS_FILE = "kgan_book.css"
CSS = """\
/* tools/book_html.py: 88 columns of code or output fit the content column (676 px at a 1280-px window). */
article.bd-article div.highlight pre,
div.cell div.cell_output pre {
  font-size: 12px;
  line-height: 1.45;
  padding-left: 0.5rem;
  padding-right: 0.5rem;
}
"""


def write_css(app, exc):
    if exc is not None or app.builder.format != "html":
        return
    path = Path(app.outdir) / "_static" / CSS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CSS, encoding="utf-8")


# ----------------------------------------------------------------------------- 5. author-year labels


def author_year_label(entry) -> str:
    """Label in the in-text author_year form: "White, 2016", "Rahimi and Recht, 2007", "Gretton et al., 2012".

    >>> from pybtex.database import Entry, Person
    >>> e = Entry("article", fields={"year": "2012"}, persons={"author": [Person("Gretton, A."),
    ...     Person("Borgwardt, K."), Person("Rasch, M.")]})
    >>> author_year_label(e)
    'Gretton et al., 2012'
    """
    from pybtex.richtext import Text

    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [Text.from_latex(" ".join(p.prelast_names + p.last_names)).render_as("text") for p in persons]
    if not names:
        who = entry.fields.get("organization") or entry.fields.get("title", entry.key)
        who = Text.from_latex(str(who)).render_as("text")
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


def label_style_class():
    from pybtex.style.labels import BaseLabelStyle

    class AuthorYearLabels(BaseLabelStyle):
        """Labels "Author et al., 2012", with a, b, ... after the year where two works share one."""

        def format_labels(self, sorted_entries):
            labels = [author_year_label(e) for e in sorted_entries]
            counts = {lab: labels.count(lab) for lab in labels}
            seen: dict[str, int] = {}
            for lab in labels:
                if counts[lab] > 1:
                    seen[lab] = seen.get(lab, 0) + 1
                    lab += "abcdefghijklmnopqrstuvwxyz"[seen[lab] - 1]
                yield lab

    return AuthorYearLabels


def formatting_style_class():
    from pybtex.style.formatting.unsrt import Style as UnsrtStyle

    class AuthorYearStyle(UnsrtStyle):
        default_sorting_style = "author_year_title"
        default_label_style = "kgan_author_year"

    return AuthorYearStyle


def register_citation_style():
    from pybtex.plugin import register_plugin

    for group, cls in (
        ("pybtex.style.labels", label_style_class()),
        ("pybtex.style.formatting", formatting_style_class()),
    ):
        register_plugin(group, "kgan_author_year", cls, force=True)


# ----------------------------------------------------------------------------- 6. gated solutions, hidden


def hidden_gated_solution_classes():
    from sphinx.transforms import SphinxTransform
    from sphinx_exercise.directive import SolutionStartDirective
    from sphinx_exercise.nodes import solution_node, solution_start_node

    class SolutionStart(SolutionStartDirective):
        """``{solution-start}`` that leaves a marker when solutions are hidden, so the gated cells merge."""

        def run(self):
            result = super().run()  # registers the gate; returns [] when solutions are hidden
            if self.env.app.config.hide_solutions:
                return [solution_start_node(label=self.arguments[0], classes=["solution-start"])]
            return result

    class RemoveHiddenSolutions(SphinxTransform):
        """With ``hide_solutions``, remove the merged gated solutions (text and code cells)."""

        default_priority = 11  # after sphinx-exercise's MergeGatedSolutions (10)

        def apply(self):
            if not self.config.hide_solutions:
                return
            for node in list(self.document.findall(solution_node)) + list(self.document.findall(solution_start_node)):
                node.parent.remove(node)

    return SolutionStart, RemoveHiddenSolutions


def setup(app):
    mathjax_source()  # fail early with a clear message
    register_citation_style()
    app.setup_extension("sphinx_exercise")
    solution_start, remove_hidden = hidden_gated_solution_classes()
    app.add_directive("solution-start", solution_start, override=True)
    app.add_transform(remove_hidden)
    app.connect("build-finished", copy_mathjax)
    app.connect("build-finished", write_css)
    app.connect("doctree-read", on_doctree_read)
    app.connect("html-page-context", dedupe_scripts, priority=100)  # before handlers that return a template
    app.add_css_file(CSS_FILE)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
