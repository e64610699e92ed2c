"""The report page: a small model (sections of text, tables, code and figures) rendered
as one self-contained HTML file (inline CSS, images by relative path) and as markdown."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from ropecheck.render.status import is_word
from ropecheck.render.text import markdown_cell, markdown_table


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Table:
    """Cells are strings, or objects with ``text``, ``status`` (a status word: the cell's
    colour) and ``title`` (a tooltip), as ``data.GridCell``. ``titles``: a tooltip per
    heading (abbreviated headings spelled out)."""

    header: list[str]
    rows: list[list]
    titles: list[str] | None = None
    wrap: bool = False  # cells may wrap (a wide grid that must fit the page)


@dataclass(frozen=True)
class Items:
    """A bulleted list."""

    items: list[str]


@dataclass(frozen=True)
class Details:
    """A collapsible group (HTML ``<details>``): ``summary`` shown, ``blocks`` folded under it."""

    summary: str
    blocks: list


@dataclass(frozen=True)
class Code:
    title: str
    text: str


@dataclass(frozen=True)
class Figure:
    src: str  # relative to the page, e.g. "figures/decay.png"
    caption: str
    alt: str


@dataclass
class Section:
    anchor: str
    title: str
    blocks: list = field(default_factory=list)


CSS = """
body { font-family: system-ui, sans-serif; max-width: 1240px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 12px; margin: 1em 0; display: block; overflow-x: auto; max-width: 100%; }
th, td { border: 1px solid #ccc; padding: 2px 5px; text-align: left; white-space: nowrap; }
table.wrap td, table.wrap th { white-space: normal; font-size: 11px; padding: 2px 4px; }
th[title] { text-decoration: underline dotted; cursor: help; }
details { margin: .4em 0; border: 1px solid #ddd; border-radius: 4px; padding: .3em .6em; }
details > summary { cursor: pointer; font-size: 14px; }
details[open] > summary { margin-bottom: .4em; }
ul.summary li { margin: .25em 0; } li.fails { color: #8a1010; }
th { background: #f0f0f0; }
td.FAILED, td.ERROR { background: #fbd5d5; font-weight: bold; } td.passed { background: #e3f5e1; }
td.skipped { color: #888; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 13px; color: #444; margin-top: .4em; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; font-size: 12px; white-space: pre-wrap; }
"""

IMAGE_CHECK = """<script>
function ropecheckCountImages() {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++; }
  document.body.dataset.imagesOk = ok;
  document.body.dataset.images = imgs.length;
  document.body.dataset.scrollWidth = document.documentElement.scrollWidth;
  document.body.dataset.scrollHeight = document.documentElement.scrollHeight;
  var wide = 0, tables = document.querySelectorAll("table");
  for (var j = 0; j < tables.length; j++) { if (tables[j].scrollWidth > tables[j].clientWidth + 1) wide++; }
  document.body.dataset.scrollingTables = wide;
}
window.addEventListener("load", ropecheckCountImages);
</script>"""


def _cell_class(value: str) -> str:
    return f' class="{value}"' if is_word(value) else ""


def _cell(c) -> str:
    e = html.escape
    if hasattr(c, "text"):
        title = f' title="{e(c.title, quote=True)}"' if getattr(c, "title", "") else ""
        return f"<td{_cell_class(c.status)}{title}>{e(c.text)}</td>"
    return f"<td{_cell_class(str(c))}>{e(str(c))}</td>"


def _cell_text(c) -> str:
    return c.text if hasattr(c, "text") else str(c)


def _html_block(block) -> str:
    e = html.escape
    if isinstance(block, Text):
        return f"<p>{e(block.text)}</p>"
    if isinstance(block, Table):
        titles = block.titles or [""] * len(block.header)
        head = "".join(f'<th title="{e(t, quote=True)}">{e(h)}</th>' if t else f"<th>{e(h)}</th>"
                       for h, t in zip(block.header, titles))
        body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in block.rows)
        cls = ' class="wrap"' if block.wrap else ""
        return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if isinstance(block, Items):
        items = "".join(f'<li class="fails">{e(i)}</li>' if i.startswith("✗ ") else f"<li>{e(i)}</li>"
                        for i in block.items)
        return f'<ul class="summary">{items}</ul>'
    if isinstance(block, Details):
        inner = "\n".join(_html_block(b) for b in block.blocks)
        return f"<details><summary>{e(block.summary)}</summary>\n{inner}</details>"
    if isinstance(block, Code):
        return f"<p><b>{e(block.title)}</b></p><pre>{e(block.text)}</pre>"
    if isinstance(block, Figure):
        return (f'<figure><img src="{e(block.src, quote=True)}" alt="{e(block.alt, quote=True)}">'
                f"<figcaption>{e(block.caption)}</figcaption></figure>")
    raise TypeError(f"unknown block {block!r}")


def to_html(title: str, intro: str, sections: list[Section]) -> str:
    """The whole page: title, intro, table of contents, sections, the image-count script."""
    e = html.escape
    toc = "".join(f'<li><a href="#{e(s.anchor, quote=True)}">{e(s.title)}</a></li>' for s in sections)
    parts = [f'<section id="{e(s.anchor, quote=True)}"><h2>{e(s.title)}</h2>'
             + "\n".join(_html_block(b) for b in s.blocks) + "</section>" for s in sections]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{e(title)}</title><style>{CSS}</style></head>\n<body>\n<h1>{e(title)}</h1>\n"
            f"<p>{e(intro)}</p>\n<nav><h2>Contents</h2><ol>{toc}</ol></nav>\n" + "\n".join(parts)
            + f"\n{IMAGE_CHECK}\n</body></html>\n")


def _md_block(block) -> str:
    if isinstance(block, Text):
        return block.text
    if isinstance(block, Table):
        return markdown_table(block.header, [[_cell_text(c) for c in row] for row in block.rows])
    if isinstance(block, Items):
        return "\n".join(f"- {markdown_cell(i)}" for i in block.items)
    if isinstance(block, Details):  # GitHub renders <details> in markdown; a blank line before the body
        inner = "\n\n".join(_md_block(b) for b in block.blocks)
        return f"<details><summary>{html.escape(block.summary)}</summary>\n\n{inner}\n\n</details>"
    if isinstance(block, Code):
        fence = "````" if "```" in block.text else "```"
        return f"**{markdown_cell(block.title)}**\n\n{fence}\n{block.text}\n{fence}"
    if isinstance(block, Figure):
        caption = block.caption.replace("[", "(").replace("]", ")").replace("\n", " ")
        return f"![{caption}]({block.src})\n\n*{caption}*"
    raise TypeError(f"unknown block {block!r}")


def to_markdown(title: str, intro: str, sections: list[Section]) -> str:
    """The same page as markdown, figures as ``![caption](figures/x.png)``."""
    toc = "\n".join(f"{i}. [{s.title}](#{s.anchor})" for i, s in enumerate(sections, 1))
    body = "\n\n".join(f'<a id="{s.anchor}"></a>\n\n## {s.title}\n\n' + "\n\n".join(_md_block(b) for b in s.blocks)
                       for s in sections)
    return f"# {title}\n\n{intro}\n\n{toc}\n\n{body}\n"
