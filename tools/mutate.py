"""Mutation testing of the exact analysis, the lab and the claims' verdict rules (``make mutate``).

Runs mutmut (configured in ``pyproject.toml``, ``[tool.mutmut]``) on each package
and prints the score per package: killed mutants over all mutants, mutants
listed in ``tools/equivalent_mutants.txt`` (each named by its function and the
line it writes, with the reason it cannot change behaviour) excepted; a mutant
that makes the tests hang (timeout) counts as detected.  Not part of CI: a
full run takes hours on two cores; mutmut resumes where it stopped.

Usage: ``python tools/mutate.py [analysis] [lab] [claims] [--max-children N] [--report-only]``
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GROUPS = {
    "analysis": "dltheory.analysis.*",
    "lab": "dltheory.lab.*",
    "claims": "dltheory.claims.*",
}
EQUIVALENT = ROOT / "tools" / "equivalent_mutants.txt"
_LINE = re.compile(r"^\s*(dltheory\.[\w.]+__mutmut_\d+): (.+?)\s*$")


def _code(line: str) -> str:
    """A source line without its trailing comment and surrounding blanks."""
    return line.split("  #")[0].strip()


def equivalent() -> list[tuple[str, str, str]]:
    """``(function, mutated line, why)`` per line ``function | mutated line | why``.

    Mutants are named by mutmut with a running number per function, which
    shifts whenever the function changes; an equivalent mutant is therefore
    named by its function and the line it writes (as ``mutmut show`` prints
    it after ``+``), which stays put.
    """
    out = []
    if EQUIVALENT.is_file():
        for raw in EQUIVALENT.read_text().splitlines():
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            parts = [p.strip() for p in raw.split(" | ")]
            if len(parts) != 3 or not all(parts):
                raise SystemExit(f"{EQUIVALENT}: expected 'function | mutated line | why': {raw!r}")
            out.append((parts[0], _code(parts[1]), parts[2]))
    return out


def mutated_lines(name: str) -> list[str]:
    """The lines mutant ``name`` writes (``mutmut show``'s ``+`` lines)."""
    text = subprocess.run(
        [sys.executable, "-m", "mutmut", "show", name],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return [
        _code(x[1:]) for x in text.splitlines() if x.startswith("+") and not x.startswith("+++")
    ]


def equivalent_names(status: dict[str, str], entries: list[tuple[str, str, str]]) -> dict[str, str]:
    """Survivors that match an entry of the equivalent list, with the reason."""
    out = {}
    by_function: dict[str, list[tuple[str, str]]] = {}
    for function, line, why in entries:
        by_function.setdefault(function, []).append((line, why))
    for name, st in status.items():
        function = name.rsplit("__mutmut_", 1)[0]
        if st != "survived" or function not in by_function:
            continue
        written = mutated_lines(name)
        for line, why in by_function[function]:
            if line in written:
                out[name] = why
                break
    return out


def results() -> dict[str, str]:
    text = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return {m.group(1): m.group(2) for line in text.splitlines() if (m := _LINE.match(line))}


def score(group: str, status: dict[str, str], skip: dict[str, str]) -> dict[str, object]:
    prefix = GROUPS[group].rstrip("*")
    mine = {k: v for k, v in status.items() if k.startswith(prefix)}
    counted = {k: v for k, v in mine.items() if k not in skip}
    tally = Counter(counted.values())
    killed = tally.get("killed", 0) + tally.get("timeout", 0)  # a hang is a detection too
    # mutants not checked yet (an interrupted run; mutmut resumes) are reported, not scored
    unchecked = tally.get("not checked", 0)
    total = len(counted) - unchecked
    return {
        "package": group,
        "mutants": len(mine),
        "equivalent": len(mine) - len(counted),
        "unchecked": unchecked,
        "killed": killed,
        "timeouts": tally.get("timeout", 0),
        "survived": tally.get("survived", 0),
        "other": {
            k: v
            for k, v in tally.items()
            if k not in ("killed", "survived", "timeout", "not checked")
        },
        "score": killed / total if total else None,
        "survivors": sorted(k for k, v in counted.items() if v == "survived"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("groups", nargs="*", help=f"any of {', '.join(GROUPS)} (default: all)")
    ap.add_argument("--max-children", type=int, default=2)
    ap.add_argument("--report-only", action="store_true", help="only print the last results")
    args = ap.parse_args()
    args.groups = args.groups or list(GROUPS)
    if unknown := sorted(set(args.groups) - set(GROUPS)):
        ap.error(f"groups: unknown {unknown}; choose from {list(GROUPS)}")
    if not args.report_only:
        for group in args.groups:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "mutmut",
                    "run",
                    "--max-children",
                    str(args.max_children),
                    GROUPS[group],
                ],
                cwd=ROOT,
                check=False,
            )
    status = results()
    skip = equivalent_names(status, equivalent())
    rows = [score(g, status, skip) for g in args.groups]
    for row in rows:
        s = row["score"]
        print(
            f"{row['package']:9} mutants {row['mutants']:5}  equivalent {row['equivalent']:3}  "
            f"killed {row['killed']:5} (timeouts {row['timeouts']})  "
            f"survived {row['survived']:4}  unchecked {row['unchecked']:4}  other {row['other']}  "
            f"score {'-' if s is None else f'{s:.1%}'}"
        )
    out = ROOT / "benchmarks" / "results" / "mutation.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))
    print(f"survivors per package in {out}")


if __name__ == "__main__":
    main()
