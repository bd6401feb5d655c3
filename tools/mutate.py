"""Mutation testing of the exact analysis, the lab and the claims' verdict rules (``make mutate``).

Runs mutmut (configured in ``pyproject.toml``, ``[tool.mutmut]``) on each package
and prints the score per package: killed mutants over all mutants, mutants
listed in ``tools/equivalent_mutants.txt`` (each with the reason it cannot
change behaviour) excepted.  Not part of CI: a full run takes hours on two
cores; mutmut resumes where it stopped.

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


def equivalent() -> dict[str, str]:
    """Mutant name -> why it is equivalent (``name  # reason`` per line)."""
    out = {}
    if EQUIVALENT.is_file():
        for line in EQUIVALENT.read_text().splitlines():
            name, _, why = line.partition("#")
            if name.strip():
                out[name.strip()] = why.strip()
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
    killed = tally.get("killed", 0)
    total = len(counted)
    return {
        "package": group,
        "mutants": len(mine),
        "equivalent": len(mine) - total,
        "killed": killed,
        "survived": tally.get("survived", 0),
        "other": {k: v for k, v in tally.items() if k not in ("killed", "survived")},
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
    status, skip = results(), equivalent()
    rows = [score(g, status, skip) for g in args.groups]
    for row in rows:
        s = row["score"]
        print(
            f"{row['package']:9} mutants {row['mutants']:5}  equivalent {row['equivalent']:3}  "
            f"killed {row['killed']:5}  survived {row['survived']:4}  other {row['other']}  "
            f"score {'-' if s is None else f'{s:.1%}'}"
        )
    out = ROOT / "benchmarks" / "results" / "mutation.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))
    print(f"survivors per package in {out}")


if __name__ == "__main__":
    main()
