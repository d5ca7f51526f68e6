"""HTML pieces of the reports. Every value that reaches the page goes through `esc` (log-derived text:
subjects, addresses, rule names, reasons); charts are SVG rendered by vl-convert, which escapes its
text. Pages carry a Content-Security-Policy that forbids scripts and any network fetch."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timezone
from urllib.parse import quote

import polars as pl

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #222;
       margin: 0; background: #f6f7f9; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 1.6em; margin: 0.2em 0 0.1em; } h2 { font-size: 1.25em; margin-top: 1.8em;
  border-bottom: 1px solid #ddd; padding-bottom: 4px; } h3 { font-size: 1.05em; }
a.anchor-link { display: none; }
.pt-meta { color: #555; font-size: 0.9em; margin: 0 0 1em; }
.pt-summary p { margin: 0.4em 0; line-height: 1.45; } .pt-summary li { margin: 0.25em 0; }
.pt-note { color: #555; font-size: 0.9em; }
.pt-empty { color: #777; font-style: italic; }
figure.pt-chart { margin: 12px 0 20px; overflow-x: auto; }
figure.pt-chart svg { max-width: none; height: auto; }
figcaption { color: #555; font-size: 0.85em; margin-top: 4px; }
table.pt-table { border-collapse: collapse; font-size: 0.82em; margin: 8px 0 16px; width: 100%; }
table.pt-table th, table.pt-table td { border: 1px solid #ddd; padding: 4px 6px; text-align: left;
  vertical-align: top; overflow-wrap: break-word; }
table.pt-table th { background: #f0f2f5; } table.pt-table tr:nth-child(even) td { background: #fafbfc; }
.sev-high { color: #b03a2e; font-weight: 600; } .sev-medium { color: #9a6700; }
.jp-Cell-outputWrapper, .output_wrapper, .output_area { margin: 0; }
"""


# the zone aware times are shown in (set_time_zone; a report process renders one report)
_ZONE = timezone.utc


def set_time_zone(zone) -> None:
    """Show aware times in `zone` (a tzinfo; None: UTC) from now on."""
    global _ZONE
    utc = zone is None or zone == timezone.utc or getattr(zone, "key", None) in ("UTC", "Etc/UTC", "Etc/UCT", "UCT")
    _ZONE = timezone.utc if utc else zone


def text(value) -> str:
    """A value as plain display text: None is empty, times ISO in the set zone ('Z' for UTC, else the
    offset, e.g. +02:00), floats shortened."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            local = value.astimezone(_ZONE)
            offset = local.utcoffset()
            if _ZONE is timezone.utc:
                return local.strftime("%Y-%m-%d %H:%M:%SZ")
            minutes = int(offset.total_seconds() // 60)
            sign = "+" if minutes >= 0 else "-"
            return local.strftime("%Y-%m-%d %H:%M:%S") + f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def esc(value) -> str:
    """A value as escaped HTML text (see `text`)."""
    return html.escape(text(value), quote=True)


def table(df: pl.DataFrame, columns: Mapping[str, str] | Sequence[str] | None = None,
          max_rows: int | None = None, empty: str = "Nothing to show.") -> str:
    """An escaped HTML table of `columns` ({name: heading} or names) of df, at most max_rows rows."""
    if columns is None:
        pairs = [(c, c) for c in df.columns]
    elif isinstance(columns, Mapping):
        pairs = list(columns.items())
    else:
        pairs = [(c, c) for c in columns]
    pairs = [(n, h) for n, h in pairs if n in df.columns]
    names, heads = [n for n, _ in pairs], [h for _, h in pairs]
    if not df.height:
        return f'<p class="pt-empty">{esc(empty)}</p>'
    shown = df if max_rows is None else df.head(max_rows)
    out = ['<table class="pt-table"><thead><tr>', "".join(f"<th>{esc(h)}</th>" for h in heads), "</tr></thead><tbody>"]
    for row in shown.select(names).iter_rows():
        out.append("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>")
    out.append("</tbody></table>")
    if max_rows is not None and df.height > max_rows:
        out.append(f'<p class="pt-note">Showing {max_rows} of {df.height} rows; '
                   "the CSV beside this report has all of them.</p>")
    return "".join(out)


def figure(svg: str | None, name: str, caption: str | None = None) -> str:
    """A chart's SVG (from charts.to_svg) in a <figure data-chart=name>; a note when there is no data."""
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    if svg is None:
        return (f'<figure class="pt-chart pt-nodata" data-chart="{esc(name)}">'
                f'<p class="pt-empty">No data for this chart.</p>{cap}</figure>')
    return f'<figure class="pt-chart" data-chart="{esc(name)}">{svg}{cap}</figure>'


def paragraphs(lines: Iterable[str]) -> str:
    return "".join(f"<p>{esc(line)}</p>" for line in lines)


def bullet_list(items: Iterable[str], ordered: bool = False) -> str:
    tag = "ol" if ordered else "ul"
    body = "".join(f"<li>{esc(i)}</li>" for i in items)
    return f"<{tag}>{body}</{tag}>" if body else ""


def page(title: str, body_html: str) -> str:
    """A standalone page: no script, no external resource (the CSP forbids both)."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head>"
            f"<body><main>\n{body_html}\n</main></body></html>\n")


def href(path: str) -> str:
    """A relative link target, percent-encoded (then attribute-escaped)."""
    return esc(quote(path, safe="/"))
