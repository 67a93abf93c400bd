"""Open a report page in headless Chromium and list the images that did not load.

The page itself carries no script. A copy gets a small one that, once the page has loaded,
counts ``document.images`` and names those the browser could not decode (``naturalWidth`` 0);
Chromium's ``--dump-dom`` then prints the DOM with the verdict written on ``<body>``.

    python -m ganlab.report.browser reports/index.html
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ganlab.errors import GanlabError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PROBE = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (i) { return !i.complete || i.naturalWidth === 0; })
                     .map(function (i) { return i.alt || i.getAttribute("src").slice(0, 80); });
  document.body.setAttribute("data-ganlab-images", String(images.length));
  document.body.setAttribute("data-ganlab-broken", JSON.stringify(broken));
});
</script>"""


def find_chromium() -> str | None:
    """$GANLAB_CHROMIUM, else the first Chromium or Chrome on PATH."""
    named = os.environ.get("GANLAB_CHROMIUM")
    if named:
        return named if shutil.which(named) else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def broken_images(page: str | Path, chromium: str | None = None, timeout: float = 300) -> tuple[int, list[str]]:
    """(number of images on the page, the alt text or start of src of each one that failed to load)."""
    page = Path(page)
    if not page.is_file():
        raise GanlabError(f"{page}: no such page")
    chromium = chromium or find_chromium()
    if chromium is None:
        raise GanlabError("no Chromium found (install the Debian package `chromium`, or set GANLAB_CHROMIUM)")
    text = page.read_text(encoding="utf-8")
    if "</body>" not in text:
        raise GanlabError(f"{page}: no </body>; not a complete HTML page")
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "page.html"  # same folder layout is not needed: the report's images are inline
        probe.write_text(text.replace("</body>", PROBE + "\n</body>", 1), encoding="utf-8")
        args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", f"--user-data-dir={Path(tmp) / 'profile'}", "--virtual-time-budget=30000",
                "--dump-dom", probe.as_uri()]
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise GanlabError(f"{chromium} did not finish rendering {page} in {timeout:.0f} s") from None
    m = re.search(r'<body[^>]*\bdata-ganlab-images="(\d+)"[^>]*\bdata-ganlab-broken="([^"]*)"', done.stdout)
    if m is None:
        tail = (done.stderr or "").strip().splitlines()[-3:]
        raise GanlabError(f"{chromium} rendered {page} but the load check never ran (exit {done.returncode}): "
                          + " | ".join(tail))
    import html

    return int(m.group(1)), json.loads(html.unescape(m.group(2)))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("usage: python -m ganlab.report.browser PAGE.html\n")
        return 2
    try:
        n, broken = broken_images(argv[0])
    except GanlabError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    sys.stdout.write(f"{argv[0]}: {n} images, {len(broken)} broken\n")
    for name in broken:
        sys.stdout.write(f"  broken: {name}\n")
    return 1 if broken or n == 0 else 0


if __name__ == "__main__":
    raise SystemExit(main())
