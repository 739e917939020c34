"""Check the rendered book in a real browser (headless Chromium driven by Selenium).

Serves a built book (default ``_build/html``) on a free localhost port, opens every page, and fails if a page

* logs an error to the browser console (a missing file, a script error, a failed request),
* has an ``<img>`` that did not load (``naturalWidth == 0``),
* has math that MathJax did not typeset (a ``.math`` element without rendered output, a TeX error, or
  TeX source such as ``\\(`` or ``$\\alpha$`` left in the visible text),
* loads anything from outside localhost: the book must work offline (MathJax is served from ``_static``),
* has an element wider than its column: a cell's output, a code block, a table or a display equation whose
  content is wider than its box (``scrollWidth > clientWidth + 1``: it scrolls or is clipped), or that sticks out
  of the content column or out of the box that scrolls it; an output image shown smaller than its natural size,
* does not open with its title: the first visible element of the article must be its ``h1`` (not, say, a
  "Show code cell source" button above it),
* shows the test marker ``NBVAL_CHECK_OUTPUT`` (``tools/book_html.py`` removes it from the code cells).

Every page's widest element is printed (kind, width, column width). The content column of a page at the default
window (1280x900) is ``COLUMN_PX`` = 676 px; the check fails if the theme changes it, because
``tests/test_rendering.py`` sizes figures by it (a stored figure is at most that wide, so it is never scaled).

Every host but localhost is unreachable for the browser (``--host-resolver-rules``), so a page that needs the
internet fails here even on a machine that has it.

Usage::

    python tools/check_html.py [BUILD_DIR] [--pages GLOB ...] [--screenshot PAGE=PNG] [--window W,H] [--measure]

``--measure`` only prints the width of the content column of every page (no checks).

Needs ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (Debian: ``apt-get install chromium
chromium-driver``; ``make check-html`` installs them) and the pip package ``selenium``.
Prints the pages checked, the images loaded, the math elements typeset and the size of the book.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("KGAN_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("KGAN_CHROMEDRIVER", "/usr/bin/chromedriver")
PAGE_TIMEOUT_S = 30
WINDOW = "1280,900"  # a laptop screen; the content column is then COLUMN_PX wide
COLUMN_PX = 676  # content column of a page at WINDOW (article width minus its padding), in CSS pixels

# Runs in the page once it has loaded: waits for MathJax and for every image, then reports.
INSPECT_JS = r"""
const done = arguments[arguments.length - 1];
(async () => {
  const imgs = Array.from(document.images);
  for (const img of imgs) { if (img.loading === "lazy") { img.loading = "eager"; } }
  await Promise.all(imgs.map(img => img.complete ? null :
      new Promise(res => { img.addEventListener("load", res); img.addEventListener("error", res); })));
  let mathjax = "absent";
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    try { await MathJax.startup.promise; mathjax = MathJax.version || "3"; }
    catch (e) { mathjax = "failed: " + e; }
  } else if (document.querySelector(".math")) {
    mathjax = "not loaded";
  }
  const maths = Array.from(document.querySelectorAll(".math"));
  const untypeset = maths.filter(el => !el.querySelector("mjx-container"))
                         .map(el => el.textContent.trim().slice(0, 80));
  const texErrors = Array.from(document.querySelectorAll("mjx-merror, [data-mjx-error]"))
                         .map(el => (el.getAttribute("data-mjx-error") || el.textContent).slice(0, 80));
  // TeX left in the visible text (outside code, math and MathJax output)
  const leftovers = [];
  const walker = document.createTreeWalker(document.querySelector("main") || document.body || document.documentElement,
                                           NodeFilter.SHOW_TEXT);
  const skip = "PRE, CODE, SCRIPT, STYLE, TEXTAREA, MJX-CONTAINER, .math, .highlight, .output, .cell_output";
  const texRe = /\\\(|\\\[|\$[^$\n]*\\[a-zA-Z]+[^$\n]*\$/;
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest(skip)) continue;
    if (texRe.test(n.textContent)) leftovers.push(n.textContent.trim().slice(0, 80));
  }
  const external = performance.getEntriesByType("resource").map(e => e.name)
      .filter(u => !u.startsWith(location.origin) && !u.startsWith("data:") && !u.startsWith("blob:"));

  // ---- widths: every output, code block, table and display equation fits its column
  const article = document.querySelector("article.bd-article") || document.querySelector("main article")
                  || document.querySelector("main");
  let column = null, wide = [], widest = null, scaled = [], firstEl = null, marker = [];
  if (article) {
    const cs = getComputedStyle(article);
    column = article.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    const colRight = article.getBoundingClientRect().left + parseFloat(cs.paddingLeft) + column;
    const visible = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0 &&
                            getComputedStyle(el).visibility !== "hidden"; };
    const kind = el => el.matches("mjx-container") ? "display equation" : el.matches("table") ? "table"
        : el.closest(".cell_output") ? "output" : el.closest(".cell_input") ? "code cell" : "code block";
    const describe = el => (el.textContent || "").replace(/[\u2061-\u2064]/g, "").trim()
                                                .replace(/\s+/g, " ").slice(0, 60);
    const scroller = el => { for (let p = el.parentElement; p && p !== article; p = p.parentElement) {
        const o = getComputedStyle(p).overflowX; if (o === "auto" || o === "scroll" || o === "hidden") return p; }
        return null; };
    const sel = ".cell_output, .cell_output pre, .cell_output .output, pre, table, mjx-container[display='true']";
    for (const el of article.querySelectorAll(sel)) {
      if (!visible(el)) continue;
      const r = el.getBoundingClientRect();
      const width = Math.max(el.scrollWidth, Math.round(r.width));
      const info = {kind: kind(el), width, box: el.clientWidth, column, text: describe(el)};
      if (!widest || width > widest.width) widest = info;
      let why = null;
      if (el.scrollWidth > el.clientWidth + 1) why = `content ${el.scrollWidth} px in a ${el.clientWidth}-px box`;
      else if (r.right > colRight + 1) why = `${Math.round(r.width)} px wide, past the ${column}-px column`;
      else { const p = scroller(el);
             if (p && p.scrollWidth > p.clientWidth + 1)
               why = `${p.scrollWidth} px in a ${p.clientWidth}-px scrolling box`; }
      if (why) wide.push({...info, why, el});
    }
    // one report per overflow: the innermost element (a table rather than the output box around it)
    wide = wide.filter(w => !wide.some(o => o !== w && w.el.contains(o.el))).map(({el, ...w}) => w);
    for (const img of article.querySelectorAll(".cell_output img")) {
      if (visible(img) && img.naturalWidth > img.clientWidth + 1)
        scaled.push({src: img.getAttribute("src"), natural: img.naturalWidth, shown: img.clientWidth});
    }
    // the first visible element of the article, in reading order
    const content = "h1, h2, h3, h4, p, pre, table, img, details, summary, button, ul, ol, dl, blockquote, " +
                    "figure, .admonition, .cell, mjx-container";
    const firsts = Array.from(article.querySelectorAll(content)).filter(visible);
    if (firsts.length) {
      const el = firsts[0];
      const h1 = el.closest("h1") || (el.matches("h1") ? el : null);
      firstEl = {tag: el.tagName.toLowerCase(), cls: el.className || "", text: describe(el), isTitle: !!h1};
    }
  }
  // the nbval test marker, anywhere in the page's text
  const textWalker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = textWalker.nextNode(); n; n = textWalker.nextNode()) {
    if (n.parentElement && n.parentElement.closest("script, style, noscript, template")) continue;
    if (n.textContent.includes("NBVAL_CHECK_OUTPUT")) marker.push(n.parentElement.closest("p, pre, li, div")
        ?.textContent.trim().replace(/\s+/g, " ").slice(0, 80) || "");
  }
  done({
    title: document.title,
    images: imgs.map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0})),
    mathjax, typeset: document.querySelectorAll("mjx-container").length,
    untypeset, texErrors, leftovers, external,
    column, wide, widest, scaled, firstEl, marker, themed: !!document.querySelector("article.bd-article"),
  });
})().catch(e => done({error: String(e)}));
"""


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the report readable
        pass


@contextlib.contextmanager
def serve(directory: Path):
    port = free_port()
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def browser(window: str = WINDOW):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        sys.exit("check_html: the pip package `selenium` is missing (pip install selenium).")
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not Path(exe).exists():
            sys.exit(f"check_html: {exe} not found; install it with `apt-get install chromium chromium-driver`.")
    profile = tempfile.mkdtemp(prefix="kgan-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        f"--window-size={window}",
        f"--user-data-dir={profile}",
        # offline on purpose: every host except localhost fails to resolve
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(PAGE_TIMEOUT_S)
    driver.set_script_timeout(PAGE_TIMEOUT_S)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def pages_of(build: Path, patterns: list[str] | None) -> list[Path]:
    pages = sorted(
        p for p in build.rglob("*.html") if not any(part.startswith(("_", ".")) for part in p.relative_to(build).parts)
    )
    if patterns:
        pages = [p for p in pages if any(p.relative_to(build).match(g) for g in patterns)]
    return pages


REDIRECT_RE = re.compile(r'<meta http-equiv="refresh" content="\d+;\s*url=([^"]+)"', re.I)


def redirect_target(page: Path) -> Path | None:
    """The page a redirect-only page (like the root index.html) points to, else None."""
    head = page.read_text(encoding="utf-8", errors="replace")[:2000]
    m = REDIRECT_RE.search(head)
    return (page.parent / m.group(1).split("#")[0]).resolve() if m else None


def check_page(driver, url: str) -> tuple[dict, list[str]]:
    driver.get_log("browser")  # drop what an earlier page left
    driver.get(url)
    info = driver.execute_async_script(INSPECT_JS)
    problems = []
    if "error" in info:
        return info, [f"inspection failed: {info['error']}"]
    for entry in driver.get_log("browser"):
        if entry.get("level") == "SEVERE":
            problems.append(f"console error: {entry.get('message', '')[:200]}")
    for img in info["images"]:
        if not img["ok"]:
            problems.append(f"image did not load: {img['src']}")
    if info["mathjax"] not in ("absent",) and not info["mathjax"][:1].isdigit():
        problems.append(f"MathJax {info['mathjax']}")
    for text in info["untypeset"]:
        problems.append(f"math not typeset: {text!r}")
    for text in info["texErrors"]:
        problems.append(f"TeX error: {text!r}")
    for text in info["leftovers"]:
        problems.append(f"TeX source in the text: {text!r}")
    for u in info["external"]:
        problems.append(f"loads a resource from outside the book: {u}")
    for w in info.get("wide") or []:
        problems.append(f"{w['kind']} wider than its column: {w['why']}: {w['text']!r}")
    for img in info.get("scaled") or []:
        problems.append(f"output image scaled down: {img['natural']} px shown at {img['shown']} px ({img['src'][:60]})")
    first = info.get("firstEl")
    # the pages of the book's theme (an article.bd-article), but the index and the search page
    if first is not None and info.get("themed") and not first["isTitle"] and not SPECIAL_PAGE.search(url):
        problems.append(
            f"the page does not open with its title: first element <{first['tag']} class={first['cls']!r}> "
            f"{first['text']!r}"
        )
    for text in info.get("marker") or []:
        problems.append(f"NBVAL_CHECK_OUTPUT shown on the page: {text!r}")
    return info, problems


SPECIAL_PAGE = re.compile(r"/(genindex|search|py-modindex)\.html$")


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build", nargs="?", default=str(ROOT / "_build" / "html"), help="built HTML folder")
    ap.add_argument("--pages", nargs="*", help="only pages matching these globs (relative paths)")
    ap.add_argument(
        "--screenshot",
        action="append",
        default=[],
        metavar="PAGE=PNG",
        help="also save a screenshot of PAGE (relative path) to PNG",
    )
    ap.add_argument("--window", default=WINDOW, help=f"browser window size WIDTH,HEIGHT (default {WINDOW})")
    ap.add_argument("--measure", action="store_true", help="only print the content column width of every page")
    args = ap.parse_args(argv)
    build = Path(args.build).resolve()
    if not (build / "index.html").exists():
        print(f"check_html: no built book in {build} (run `make book` first).", file=sys.stderr)
        return 2
    pages = pages_of(build, args.pages)
    t0 = time.perf_counter()
    n_img = n_math = 0
    failures: dict[str, list[str]] = {}
    with serve(build) as base, browser(args.window) as driver:
        for page in pages:
            rel = page.relative_to(build).as_posix()
            target = redirect_target(page)
            if target is not None:
                ok = target.is_file()
                print(f"  {'ok  ' if ok else 'FAIL'} {rel}  (redirect to {target.relative_to(build).as_posix()})")
                if not ok:
                    failures[rel] = [f"redirect to a missing page: {target}"]
                continue
            info, problems = check_page(driver, f"{base}/{rel}")
            column = info.get("column")
            if args.measure:
                print(f"  {rel}: content column {column} px at window {args.window}")
                continue
            special = SPECIAL_PAGE.search("/" + rel)
            themed = info.get("themed") and not special  # a page of the book's theme, not the index or search
            if themed and args.window == WINDOW and abs(column - COLUMN_PX) > 1:
                problems.append(
                    f"content column {column} px at {WINDOW}, not {COLUMN_PX}: the theme changed; update COLUMN_PX "
                    "here (tests/test_rendering.py sizes figures by it)"
                )
            n_img += sum(i["ok"] for i in info.get("images", []))
            n_math += info.get("typeset", 0)
            status = "ok  " if not problems else "FAIL"
            w = info.get("widest")
            widest = f"; widest: {w['kind']} {w['width']} px in a {w['column']}-px column" if w else ""
            print(f"  {status} {rel}  ({len(info.get('images', []))} images, {info.get('typeset', 0)} math{widest})")
            if problems:
                failures[rel] = problems
                for p in problems:
                    print(f"         - {p}")
        for spec in args.screenshot:
            rel, _, png = spec.partition("=")
            driver.get(f"{base}/{rel}")
            driver.execute_async_script(INSPECT_JS)
            Path(png).parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(png)
            print(f"  screenshot of {rel} -> {png}")
    elapsed = time.perf_counter() - t0
    sys.stdout.flush()
    print(
        f"check_html: {len(pages)} pages checked, {n_img} images loaded, {n_math} math elements typeset, "
        f"book size {size_mb(build):.1f} MB, {elapsed:.1f} s"
    )
    if failures:
        print(f"check_html: FAILED on {len(failures)} page(s): {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
