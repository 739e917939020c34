"""Check the rendered book in a real browser (headless Chromium driven by Selenium).

Serves a built book (default ``_build/html``) on a free localhost port, opens every page, and fails if a page

* logs an error to the browser console (a missing file, a script error, a failed request),
* has an ``<img>`` that did not load (``naturalWidth == 0``),
* has math that MathJax did not typeset (a ``.math`` element without rendered output, a TeX error, or
  TeX source such as ``\\(`` or ``$\\alpha$`` left in the visible text),
* loads anything from outside localhost: the book must work offline (MathJax is served from ``_static``).

Every host but localhost is unreachable for the browser (``--host-resolver-rules``), so a page that needs the
internet fails here even on a machine that has it.

Usage::

    python tools/check_html.py [BUILD_DIR] [--pages GLOB ...] [--screenshot PAGE=PNG] [--window W,H]

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
  done({
    title: document.title,
    images: imgs.map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0})),
    mathjax, typeset: document.querySelectorAll("mjx-container").length,
    untypeset, texErrors, leftovers, external,
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
def browser(window: str = "1280,900"):
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
        p for p in build.rglob("*.html") if not any(part.startswith("_") for part in p.relative_to(build).parts)
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
    return info, problems


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
    ap.add_argument("--window", default="1280,900", help="browser window size WIDTH,HEIGHT (default 1280,900)")
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
            n_img += sum(i["ok"] for i in info.get("images", []))
            n_math += info.get("typeset", 0)
            status = "ok  " if not problems else "FAIL"
            print(f"  {status} {rel}  ({len(info.get('images', []))} images, {info.get('typeset', 0)} math)")
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
