"""HTML pieces shared by the report and the notebook displays: tables from :class:`~.tables.Table`."""
from __future__ import annotations

import html

from .tables import Table


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def table_html(t: Table, css_class: str = "data") -> str:
    """A ``<table>`` with its caption; numeric columns right-aligned; notes after it."""
    out = [f'<table class="{css_class}">']
    if t.caption:
        out.append(f"<caption>{esc(t.caption)}</caption>")
    out.append("<thead><tr>" + "".join(f'<th{_align(i, t)}>{esc(h)}</th>' for i, h in enumerate(t.head))
               + "</tr></thead><tbody>")
    for k, r in enumerate(t.rows):
        cls = ' class="rule"' if k in t.rules else ""
        out.append(f"<tr{cls}>" + "".join(f"<td{_align(i, t)}>{esc(c.strip()) or '&nbsp;'}</td>"
                                         for i, c in enumerate(r)) + "</tr>")
    out.append("</tbody></table>")
    if t.notes:
        out.append('<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in t.notes) + "</ul>")
    return "\n".join(out)


def _align(i: int, t: Table) -> str:
    return ' class="num"' if i in t.right else ""


#: A small inline style for notebook displays (no external resources).
NOTEBOOK_STYLE = ("<style>.carbonsim table.data{border-collapse:collapse;font-size:12px}"
                  ".carbonsim caption{text-align:left;font-weight:600;padding:4px 0}"
                  ".carbonsim th,.carbonsim td{padding:2px 8px;border-bottom:1px solid #ddd}"
                  ".carbonsim td.num,.carbonsim th.num{text-align:right;font-variant-numeric:tabular-nums}"
                  ".carbonsim tr.rule td{border-top:2px solid #888;font-weight:600}"
                  ".carbonsim ul.notes{font-size:11px;color:#555;margin:4px 0}</style>")
