"""The report: ``report.html`` (self-contained) and ``REPORT.md`` from the claim summaries.

:func:`write_report` reads every ``out_dir/claims/<id>.json`` written by
:func:`dltheory.lab.run_claim` and renders one section per claim: title, id,
statement, source, the outcome (``reproduced`` green, ``not reproduced`` red,
``inconclusive`` amber) with its one-line summary, the effects behind a
statistical verdict (estimate, interval, effect size, threshold) and what
would decide an inconclusive one, the robustness table (the same rule on
other data sets), the protocol history (earlier versions' recorded verdicts
and why the protocol changed), the numbers, the figure, the parameters, the
run time and the data note.  The HTML embeds the figures as base64 PNG so the
single file can be mailed around; the Markdown links them by relative path.
Both files are written atomically.
"""

from __future__ import annotations

import base64
import html
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..claims.evidence import INCONCLUSIVE, NOT_REPRODUCED, OUTCOMES, REPRODUCED
from .runner import atomic_write_text

__all__ = ["load_summaries", "render_html", "render_markdown", "write_report"]

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 64em; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
section { border-top: 1px solid #ccc; padding-top: 1em; margin-top: 2em; }
.verdict { font-weight: bold; padding: 0.1em 0.5em; border-radius: 0.3em; color: white; }
.ok { background: #2e7d32; } .no { background: #c62828; } .maybe { background: #ef6c00; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #ddd; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
img { max-width: 100%; }
.meta { color: #666; font-size: 0.9em; }
h3 { font-size: 1em; margin-bottom: 0.2em; }
"""

_CSS_CLASS = {REPRODUCED: "ok", NOT_REPRODUCED: "no", INCONCLUSIVE: "maybe"}

#: Fields of a summary and the types they must have (others are ignored).
_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "verdict": (str,),
    "title": (str,),
    "source": (str,),
    "statement": (str,),
    "summary": (str,),
    "rule": (str,),
    "decide_by": (str,),
    "data_note": (str,),
    "profile": (str, type(None)),
    "numbers": (dict,),
    "params": (dict,),
    "overrides": (dict,),
    "effects": (list,),
    "robustness": (list,),
    "history": (list,),
    "seconds": (int, float),
    "units_run": (int,),
    "units_reused": (int,),
    "seed": (int,),
}


def _check_summary(doc: Any, path: Path) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise ValueError(f"report: {path} is not a claim summary (a JSON object is expected)")
    for name in ("id", "verdict"):
        if name not in doc:
            raise ValueError(f"report: {path} is not a claim summary (no {name!r})")
    for name, types in _FIELDS.items():
        if name in doc and (not isinstance(doc[name], types) or isinstance(doc[name], bool)):
            want = " or ".join(t.__name__ for t in types)
            raise ValueError(
                f"report: {path}: field {name!r} should be {want}, got "
                f"{type(doc[name]).__name__}; rerun the claim to rewrite the file"
            )
    if doc["verdict"] not in OUTCOMES:
        raise ValueError(
            f"report: {path}: verdict {doc['verdict']!r} is not one of {', '.join(OUTCOMES)}"
        )
    for name in ("effects", "robustness", "history"):
        if not all(isinstance(item, dict) for item in doc.get(name, [])):
            raise ValueError(f"report: {path}: field {name!r} should be a list of objects")
    return doc


def load_summaries(out_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The claim summaries in ``out_dir/claims/``, sorted by id.

    Raises
    ------
    ValueError
        If ``out_dir`` has no ``claims`` folder, or a summary is not valid JSON
        or has a field of the wrong type (naming the file and the field).
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
        docs.append(_check_summary(doc, path))
    return sorted(docs, key=lambda d: str(d["id"]))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    if value is None:
        return "-"
    return str(value)


def _md_cell(value: Any) -> str:
    return _fmt(value).replace("|", "\\|").replace("\n", " ")


def _tally(docs: list[dict[str, Any]]) -> str:
    counts = {o: sum(1 for d in docs if d["verdict"] == o) for o in OUTCOMES}
    return (
        f"{counts[REPRODUCED]} reproduced, {counts[NOT_REPRODUCED]} not reproduced, "
        f"{counts[INCONCLUSIVE]} inconclusive, of {len(docs)} claims"
    )


def _effect_rows(d: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for e in d.get("effects", []):
        scale = e.get("scale")

        def f(v: Any, scale: Any = scale) -> str:
            if v is None:
                return "unbounded"
            if not isinstance(v, (int, float)):
                return str(v)
            return f"x{v:.3g}" if scale == "ratio" else f"{v:.3g}"

        side = "<" if e.get("direction") == "less" else ">"
        size = e.get("effect_size")
        rows.append(
            [
                str(e.get("name", "")),
                f(e.get("estimate")),
                f"{f(e.get('low'))} to {f(e.get('high'))}",
                str(e.get("n", "")),
                "-" if not isinstance(size, (int, float)) else f"{size:.2f}",
                f"{side} {f(e.get('threshold'))}",
                str(e.get("outcome", "")),
            ]
        )
    return rows


_EFFECT_HEAD = ["effect", "estimate", "95% interval", "seeds", "d_z", "holds iff", "outcome"]


def _history_rows(d: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for h in d.get("history", []):
        prev = "; ".join(
            f"{p.get('profile')}: {p.get('outcome')} ({p.get('date')}, {str(p.get('commit'))[:8]})"
            for p in h.get("previous", [])
        )
        rows.append(
            [
                f"v{h.get('version', 1) - 1} -> v{h.get('version')}",
                str(h.get("date", "")),
                prev or "not recorded",
                str(h.get("change", "")),
                str(h.get("why", "")),
            ]
        )
    return rows


_HISTORY_HEAD = ["protocol", "date", "earlier verdicts", "what changed", "why"]


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return out + [""]


def render_markdown(
    docs: list[dict[str, Any]], out_dir: str | os.PathLike[str] | None = None
) -> str:
    """The Markdown report (figures linked as ``figures/<id>.png``).

    With ``out_dir``, only the figures present in ``out_dir/figures`` are linked
    (a claim that drew none gets no broken link); without it, every claim's.
    """
    lines = [
        "# dltheory: reproduced claims",
        "",
        f"{_tally(docs)} ({time.strftime('%Y-%m-%d %H:%M:%S')}).",
        "",
        "| claim | verdict | profile | seconds |",
        "|---|---|---|---|",
    ]
    for d in docs:
        lines.append(
            f"| [{d['id']}](#{d['id']}) | {d['verdict']} | {d.get('profile') or 'custom'} | "
            f"{d.get('seconds', 0):.1f} |"
        )
    for d in docs:
        lines += [
            "",
            f"## {d.get('title', d['id'])}",
            "",
            f'<a id="{d["id"]}"></a>',
            "",
            f"- **id**: `{d['id']}` (protocol v{d.get('claim_version', 1)})",
            f"- **source**: {d.get('source', '')}",
            f"- **verdict**: **{d['verdict']}**",
            "",
            f"> {d.get('statement', '')}".replace("\n", "\n> "),
            "",
            str(d.get("summary", "")),
            "",
        ]
        if d.get("decide_by"):
            lines += [f"*What would decide it*: {d['decide_by']}", ""]
        if d.get("rule"):
            lines += [f"*Rule*: {d['rule']}", ""]
        if d.get("effects"):
            lines += ["### Effects", ""] + _md_table(_EFFECT_HEAD, _effect_rows(d))
        if d.get("robustness"):
            lines += ["### Robustness (outside the verdict)", ""]
            rows = [
                [
                    str(r.get("setting")) + (" (pre-registered)" if r.get("preregistered") else ""),
                    str(r.get("outcome")),
                    str(r.get("detail", "")),
                ]
                for r in d["robustness"]
            ]
            lines += _md_table(["data set", "outcome", "detail"], rows)
        if d.get("history"):
            lines += ["### Protocol history", ""] + _md_table(_HISTORY_HEAD, _history_rows(d))
        numbers = d.get("numbers") or {}
        if numbers:
            lines += _md_table(["number", "value"], [[k, v] for k, v in numbers.items()])
        if out_dir is None or (Path(out_dir) / "figures" / f"{d['id']}.png").is_file():
            lines += [f"![{d['id']}](figures/{d['id']}.png)", ""]
        params = d.get("params") or {}
        if params:
            lines += _md_table(["parameter", "value"], [[k, v] for k, v in params.items()])
        lines.append(
            f"Profile {d.get('profile') or 'custom'}"
            + (f" with --set {d['overrides']}" if d.get("overrides") else "")
            + f"; seed {d.get('seed')}; {d.get('seconds', 0):.1f} s; "
            f"{d.get('units_run', 0)} units run, {d.get('units_reused', 0)} reused."
        )
        if d.get("data_note"):
            lines += ["", f"*Data*: {d['data_note']}"]
    return "\n".join(lines) + "\n"


def _html_table(head: list[str], rows: list[list[Any]]) -> str:
    e = html.escape
    top = "".join(f"<th>{e(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{e(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{top}</tr>{body}</table>"


def _badge(outcome: str) -> str:
    return f"<span class='verdict {_CSS_CLASS.get(outcome, 'no')}'>{html.escape(outcome)}</span>"


def render_html(docs: list[dict[str, Any]], out_dir: str | os.PathLike[str]) -> str:
    """The self-contained HTML report (figures from ``out_dir/figures`` embedded)."""
    e = html.escape
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<title>dltheory report</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>dltheory: reproduced claims</h1>",
        f"<p>{e(_tally(docs))} ({e(stamp)}).</p>",
        "<table><tr><th>claim</th><th>verdict</th><th>profile</th><th>seconds</th></tr>",
    ]
    for d in docs:
        parts.append(
            f"<tr><td><a href='#{e(d['id'])}'>{e(d['id'])}</a></td>"
            f"<td>{_badge(d['verdict'])}</td><td>{e(str(d.get('profile') or 'custom'))}</td>"
            f"<td>{d.get('seconds', 0):.1f}</td></tr>"
        )
    parts.append("</table>")
    for d in docs:
        parts += [
            f"<section id='{e(d['id'])}'>",
            f"<h2>{e(str(d.get('title', d['id'])))}</h2>",
            f"<p class='meta'><code>{e(d['id'])}</code> (protocol v{d.get('claim_version', 1)})"
            f" &middot; {e(str(d.get('source', '')))}</p>",
            f"<blockquote>{e(str(d.get('statement', '')))}</blockquote>",
            f"<p>{_badge(d['verdict'])} {e(str(d.get('summary', '')))}</p>",
        ]
        if d.get("decide_by"):
            parts.append(f"<p><em>What would decide it</em>: {e(d['decide_by'])}</p>")
        if d.get("rule"):
            parts.append(f"<p class='meta'><em>Rule</em>: {e(d['rule'])}</p>")
        if d.get("effects"):
            parts += ["<h3>Effects</h3>", _html_table(_EFFECT_HEAD, _effect_rows(d))]
        if d.get("robustness"):
            rows = [
                [
                    str(r.get("setting")) + (" (pre-registered)" if r.get("preregistered") else ""),
                    r.get("outcome"),
                    r.get("detail", ""),
                ]
                for r in d["robustness"]
            ]
            parts += [
                "<h3>Robustness (outside the verdict)</h3>",
                _html_table(["data set", "outcome", "detail"], rows),
            ]
        if d.get("history"):
            parts += ["<h3>Protocol history</h3>", _html_table(_HISTORY_HEAD, _history_rows(d))]
        if d.get("numbers"):
            parts.append(_html_table(["number", "value"], list(d["numbers"].items())))
        fig = Path(out_dir) / "figures" / f"{d['id']}.png"
        if fig.is_file():
            data = base64.b64encode(fig.read_bytes()).decode("ascii")
            parts.append(f"<p><img src='data:image/png;base64,{data}' alt='{e(d['id'])}'></p>")
        if d.get("params"):
            parts.append(_html_table(["parameter", "value"], list(d["params"].items())))
        over = f" with --set {d['overrides']}" if d.get("overrides") else ""
        parts.append(
            f"<p class='meta'>Profile {e(str(d.get('profile') or 'custom'))}{e(over)}; "
            f"seed {e(str(d.get('seed')))}; {d.get('seconds', 0):.1f} s; "
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
    atomic_write_text(md_path, render_markdown(docs, out))
    return html_path, md_path
