"""The report: ``report.html`` (self-contained) and ``REPORT.md`` from the claim summaries.

:func:`write_report` reads every ``out_dir/claims/<id>.json`` written by
:func:`dltheory.lab.run_claim` and renders one section per claim: title, id,
statement, source, the verdict (coloured), its summary and numbers, the figure,
the parameters, the run time and the data note.  The HTML embeds the figures
as base64 PNG so the single file can be mailed around; the Markdown links them
by relative path.  Both files are written atomically.
"""

from __future__ import annotations

import base64
import html
import json
import os
import time
from pathlib import Path
from typing import Any

from .runner import atomic_write_text

__all__ = ["load_summaries", "render_html", "render_markdown", "write_report"]

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
section { border-top: 1px solid #ccc; padding-top: 1em; margin-top: 2em; }
.verdict { font-weight: bold; padding: 0.1em 0.5em; border-radius: 0.3em; color: white; }
.ok { background: #2e7d32; } .no { background: #c62828; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #ddd; padding: 0.2em 0.6em; text-align: left; }
img { max-width: 100%; }
.meta { color: #666; font-size: 0.9em; }
"""


def load_summaries(out_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The claim summaries in ``out_dir/claims/``, sorted by id.

    Raises
    ------
    ValueError
        If ``out_dir`` has no ``claims`` folder or a summary is not valid JSON.
    """
    folder = Path(out_dir) / "claims"
    if not folder.is_dir():
        raise ValueError(f"report: {out_dir} holds no claim results (no claims/ folder)")
    docs = []
    for path in sorted(folder.glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"report: {path} is not a claim summary: {exc}") from None
        if not isinstance(doc, dict) or "id" not in doc or "verdict" not in doc:
            raise ValueError(f"report: {path} is not a claim summary (no id/verdict)")
        docs.append(doc)
    return sorted(docs, key=lambda d: str(d["id"]))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def _md_cell(value: Any) -> str:
    return _fmt(value).replace("|", "\\|").replace("\n", " ")


def render_markdown(docs: list[dict[str, Any]]) -> str:
    """The Markdown report (figures linked as ``figures/<id>.png``)."""
    n_ok = sum(1 for d in docs if d.get("reproduced"))
    lines = [
        "# dltheory: reproduced claims",
        "",
        f"{n_ok} of {len(docs)} claims reproduced ({time.strftime('%Y-%m-%d %H:%M:%S')}).",
        "",
        "| claim | verdict | seconds |",
        "|---|---|---|",
    ]
    for d in docs:
        lines.append(f"| [{d['id']}](#{d['id']}) | {d['verdict']} | {d.get('seconds', 0):.1f} |")
    for d in docs:
        lines += [
            "",
            f"## {d.get('title', d['id'])}",
            "",
            f'<a id="{d["id"]}"></a>',
            "",
            f"- **id**: `{d['id']}`",
            f"- **source**: {d.get('source', '')}",
            f"- **verdict**: **{d['verdict']}**",
            "",
            f"> {d.get('statement', '')}".replace("\n", "\n> "),
            "",
            str(d.get("summary", "")),
            "",
        ]
        numbers = d.get("numbers") or {}
        if numbers:
            lines += ["| number | value |", "|---|---|"]
            lines += [f"| {_md_cell(k)} | {_md_cell(v)} |" for k, v in numbers.items()]
            lines.append("")
        lines += [f"![{d['id']}](figures/{d['id']}.png)", ""]
        params = d.get("params") or {}
        if params:
            lines += ["| parameter | value |", "|---|---|"]
            lines += [f"| {_md_cell(k)} | {_md_cell(v)} |" for k, v in params.items()]
            lines.append("")
        lines.append(
            f"Seed {d.get('seed')}; {d.get('seconds', 0):.1f} s; "
            f"{d.get('units_run', 0)} units run, {d.get('units_reused', 0)} reused."
        )
        if d.get("data_note"):
            lines += ["", f"*Data*: {d['data_note']}"]
    return "\n".join(lines) + "\n"


def _table(rows: dict[str, Any], head: tuple[str, str]) -> str:
    body = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(_fmt(v))}</td></tr>"
        for k, v in rows.items()
    )
    return f"<table><tr><th>{head[0]}</th><th>{head[1]}</th></tr>{body}</table>"


def render_html(docs: list[dict[str, Any]], out_dir: str | os.PathLike[str]) -> str:
    """The self-contained HTML report (figures from ``out_dir/figures`` embedded)."""
    e = html.escape
    n_ok = sum(1 for d in docs if d.get("reproduced"))
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<title>dltheory report</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>dltheory: reproduced claims</h1>",
        f"<p>{n_ok} of {len(docs)} claims reproduced ({e(stamp)}).</p>",
        "<table><tr><th>claim</th><th>verdict</th><th>seconds</th></tr>",
    ]
    for d in docs:
        cls = "ok" if d.get("reproduced") else "no"
        parts.append(
            f"<tr><td><a href='#{e(d['id'])}'>{e(d['id'])}</a></td>"
            f"<td><span class='verdict {cls}'>{e(d['verdict'])}</span></td>"
            f"<td>{d.get('seconds', 0):.1f}</td></tr>"
        )
    parts.append("</table>")
    for d in docs:
        cls = "ok" if d.get("reproduced") else "no"
        parts += [
            f"<section id='{e(d['id'])}'>",
            f"<h2>{e(str(d.get('title', d['id'])))}</h2>",
            f"<p class='meta'><code>{e(d['id'])}</code> &middot; {e(str(d.get('source', '')))}</p>",
            f"<blockquote>{e(str(d.get('statement', '')))}</blockquote>",
            f"<p><span class='verdict {cls}'>{e(d['verdict'])}</span> "
            f"{e(str(d.get('summary', '')))}</p>",
        ]
        if d.get("numbers"):
            parts.append(_table(d["numbers"], ("number", "value")))
        fig = Path(out_dir) / "figures" / f"{d['id']}.png"
        if fig.is_file():
            data = base64.b64encode(fig.read_bytes()).decode("ascii")
            parts.append(f"<p><img src='data:image/png;base64,{data}' alt='{e(d['id'])}'></p>")
        if d.get("params"):
            parts.append(_table(d["params"], ("parameter", "value")))
        parts.append(
            f"<p class='meta'>Seed {e(str(d.get('seed')))}; {d.get('seconds', 0):.1f} s; "
            f"{d.get('units_run', 0)} units run, {d.get('units_reused', 0)} reused.</p>"
        )
        if d.get("data_note"):
            parts.append(f"<p class='meta'><em>Data</em>: {e(str(d['data_note']))}</p>")
        parts.append("</section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``report.html`` and ``REPORT.md`` into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    docs = load_summaries(out)
    html_path, md_path = out / "report.html", out / "REPORT.md"
    atomic_write_text(html_path, render_html(docs, out))
    atomic_write_text(md_path, render_markdown(docs))
    return html_path, md_path
