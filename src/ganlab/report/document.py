"""The report's document: Markdown assembled section by section, and its self-contained HTML page.

The report stage builds one Markdown text (``reports/README.md``, images linked by relative path) and renders
it to ``reports/index.html`` with every image inlined as a data URI and the style inlined too, so the single
file opens from disk in any browser. This module is that document and its rendering; what goes into it is
:mod:`ganlab.report.page`'s and :mod:`ganlab.report.latents`'.
"""

from __future__ import annotations

import base64
import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ganlab.errors import GanlabError

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 72rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.45; color: #1b1b1b; }
h1, h2, h3 { line-height: 1.2; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2.5rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; } th { background: #f3f3f3; }
img { max-width: 100%; image-rendering: pixelated; border: 1px solid #eee; vertical-align: top;
      margin: 0 .6rem .6rem 0; }
code { background: #f5f5f5; padding: 0 .2rem; } pre { background: #f5f5f5; padding: .6rem; overflow-x: auto; }
nav ul { columns: 2; }
"""


@dataclass
class Document:
    """The Markdown being assembled, with what it refers to."""

    out: Path
    lines: list[str] = field(default_factory=list)
    sections: list[tuple[str, str]] = field(default_factory=list)  # (title, anchor)
    missing: list[str] = field(default_factory=list)
    images: int = 0

    def section(self, title: str, anchor: str, intro: str = "") -> None:
        self.sections.append((title, anchor))
        self.lines += ["", f'<a id="{anchor}"></a>', "", f"## {title}", ""]
        if intro:
            self.lines += [intro, ""]

    def image(self, path: Path, alt: str) -> bool:
        """An image by its path relative to the report folder; a missing file is named instead."""
        if not path.is_file():
            self.note_missing(path, alt)
            return False
        self.lines += [f"![{alt}]({relative(path, self.out)})", ""]
        self.images += 1
        return True

    def image_row(self, items: list[tuple[Path, str]]) -> None:
        """Images side by side (one paragraph), each named in a caption line above them."""
        present = []
        for path, alt in items:
            if path.is_file():
                present.append((path, alt))
            else:
                self.note_missing(path, alt)
        if present:
            self.lines += [" | ".join(alt for _, alt in present) + ":", "",
                           " ".join(f"![{alt}]({relative(path, self.out)})" for path, alt in present), ""]
            self.images += len(present)

    def note_missing(self, path: Path, what: str) -> None:
        self.missing.append(str(path))
        self.lines += [f"*{what}: `{path}` is missing.*", ""]


def relative(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


def rebase_links(text: str, src: Path, dst: Path) -> str:
    """Relative link targets in Markdown from folder SRC rewritten to work from folder DST."""
    def fix(m: re.Match) -> str:
        target = m.group(2)
        if re.match(r"^[a-z]+:|^#|^/", target):
            return m.group(0)
        return f"{m.group(1)}({relative(src / target, dst)})"

    return re.sub(r"(!?\[[^\]]*\])\(([^)\s]+)\)", fix, text)


MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml", ".gif": "image/gif"}


def inline_images(page: str, base: Path) -> str:
    """Every <img src> that is a relative path under BASE becomes a data URI; a file that is not
    there stops the build (the page would show a broken image)."""
    def embed(m: re.Match) -> str:
        src = html.unescape(m.group(2))
        if src.startswith("data:"):
            return m.group(0)
        path = base / src
        mime = MIME.get(path.suffix.lower())
        if mime is None:
            raise GanlabError(f"report: image {src!r} has a type the page cannot embed ({path.suffix})")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise GanlabError(f"report: image {path} is linked but missing") from None
        return f'{m.group(1)}"data:{mime};base64,{base64.b64encode(data).decode()}"'

    return re.sub(r'(<img\b[^>]*?\bsrc=)"([^"]+)"', embed, page)


def render_html(text: str, base: Path, title: str) -> str:
    import markdown

    body = markdown.markdown(text, extensions=["tables", "fenced_code"], output_format="html")
    body = inline_images(body, base)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<style>{STYLE}</style>\n</head>\n'
            f"<body>\n{body}\n</body>\n</html>\n")

