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

``tools/check_html.py`` checks both in a browser.
"""

from __future__ import annotations

import shutil
from importlib import metadata
from pathlib import Path

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


def setup(app):
    mathjax_source()  # fail early with a clear message
    app.connect("build-finished", copy_mathjax)
    app.connect("html-page-context", dedupe_scripts, priority=100)  # before handlers that return a template
    return {"parallel_read_safe": True, "parallel_write_safe": True}
