"""The recorded verdicts: each claim's full-profile outcome, kept in the repository.

``recorded.json`` beside this module holds, per claim and protocol version,
the outcome of a full-profile run (and of earlier protocols' runs), with the
date, the commit and the numbers.  Two uses:

* the *contradiction check* (``dltheory verdicts DIR``, ``make verdicts``): a
  quick profile is the full protocol at a smaller scale, so it may be
  ``inconclusive`` where full decides, but it must never give the opposite
  decisive outcome; :func:`check` compares a results directory against the
  records and lists every contradiction;
* the *protocol history* in the report: the verdicts of a claim's earlier
  versions, shown beside the current one with the reason for the change
  (:class:`~dltheory.claims.base.Revision`).

``dltheory verdicts DIR --record`` writes the full-profile results of ``DIR``
into the file (a maintainer's step, after a full run; commit the file).  A
full run with ``--set`` overrides is recorded only when its units are a subset
of the plain full profile's (e.g. fewer seeds or one network family of a sweep
that takes days): the record then says which units it rests on (the
overrides, and how many of the full profile's units ran).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .evidence import INCONCLUSIVE, OUTCOMES

__all__ = [
    "RECORDED_PATH",
    "Check",
    "Record",
    "check",
    "load_records",
    "records_for",
    "record_results",
    "subset_of_full",
]

#: The file of recorded verdicts (package data).
RECORDED_PATH = Path(__file__).with_name("recorded.json")
_FORMAT = 1


@dataclass(frozen=True)
class Record:
    """One recorded run of a claim: its protocol version, profile, outcome and numbers."""

    claim: str
    version: int
    profile: str
    outcome: str
    date: str
    commit: str
    summary: str
    numbers: Mapping[str, Any]
    seconds: float | None = None
    note: str = ""
    #: The ``--set`` overrides of a run on a subset of the full profile's units (empty: all).
    overrides: Mapping[str, str] = field(default_factory=dict)
    #: ``(units run, units of the plain full profile)`` when ``overrides`` is not empty.
    units: tuple[int, int] | None = None

    @property
    def rests_on(self) -> str:
        """Which units the record rests on, in words."""
        if not self.overrides:
            return "the full profile"
        sets = " ".join(f"--set {k}={v}" for k, v in sorted(self.overrides.items()))
        done = f"{self.units[0]} of the full profile's {self.units[1]} units" if self.units else ""
        return f"{done} ({sets})".strip()

    def to_json(self) -> dict[str, Any]:
        return {
            "claim": self.claim,
            "version": self.version,
            "profile": self.profile,
            "outcome": self.outcome,
            "date": self.date,
            "commit": self.commit,
            "summary": self.summary,
            "numbers": dict(self.numbers),
            "seconds": self.seconds,
            "note": self.note,
            "overrides": dict(self.overrides),
            "units": None if self.units is None else list(self.units),
        }


def _parse(doc: Any, path: Path) -> list[Record]:
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
        raise ValueError(f"recorded verdicts: {path} is not a format-{_FORMAT} record file")
    out = []
    for i, r in enumerate(doc.get("records", [])):
        try:
            rec = Record(
                claim=str(r["claim"]),
                version=int(r["version"]),
                profile=str(r["profile"]),
                outcome=str(r["outcome"]),
                date=str(r["date"]),
                commit=str(r["commit"]),
                summary=str(r.get("summary", "")),
                numbers=dict(r.get("numbers") or {}),
                seconds=None if r.get("seconds") is None else float(r["seconds"]),
                note=str(r.get("note", "")),
                overrides={str(k): str(v) for k, v in (r.get("overrides") or {}).items()},
                units=None if r.get("units") is None else (int(r["units"][0]), int(r["units"][1])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"recorded verdicts: {path}, record {i}: {exc}") from None
        if rec.outcome not in OUTCOMES:
            raise ValueError(f"recorded verdicts: {path}, record {i}: outcome {rec.outcome!r}")
        out.append(rec)
    return out


def load_records(path: str | os.PathLike[str] | None = None) -> list[Record]:
    """All recorded runs (an absent file is no records)."""
    p = Path(path) if path is not None else RECORDED_PATH
    if not p.is_file():
        return []
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"recorded verdicts: cannot read {p}: {exc}") from None
    return _parse(doc, p)


def records_for(claim: str, records: Iterable[Record] | None = None) -> list[Record]:
    """The records of one claim, newest version first, full before quick."""
    recs = [r for r in (load_records() if records is None else records) if r.claim == claim]
    return sorted(recs, key=lambda r: (-r.version, r.profile != "full", r.date))


@dataclass(frozen=True)
class Check:
    """One claim of a results directory against its recorded full verdict."""

    claim: str
    version: int
    profile: str
    outcome: str
    recorded: str | None
    status: str  # "agrees", "weaker" (inconclusive), "contradicts", "unrecorded", "skipped"
    detail: str = ""


def check(
    docs: Iterable[Mapping[str, Any]], records: Iterable[Record] | None = None
) -> list[Check]:
    """Compare claim summaries (``claims/<id>.json`` documents) with the recorded full verdicts.

    A summary contradicts its record when both are decisive (``reproduced`` /
    ``not reproduced``) and differ.  Summaries of runs with ``--set``
    overrides are skipped (another protocol); a claim without a full record at
    its current version is ``unrecorded``.
    """
    recs = list(load_records() if records is None else records)
    out = []
    for d in docs:
        cid, version = str(d["id"]), int(d.get("claim_version", 1))
        profile, outcome = str(d.get("profile") or "custom"), str(d["verdict"])
        if d.get("overrides") or profile not in ("quick", "full"):
            out.append(
                Check(cid, version, profile, outcome, None, "skipped", "not a plain profile")
            )
            continue
        full = [r for r in recs if r.claim == cid and r.version == version and r.profile == "full"]
        if not full:
            out.append(Check(cid, version, profile, outcome, None, "unrecorded", "no full record"))
            continue
        rec = max(full, key=lambda r: r.date)
        if outcome == rec.outcome:
            status = "agrees"
        elif INCONCLUSIVE in (outcome, rec.outcome):
            status = "weaker"
        else:
            status = "contradicts"
        detail = f"recorded {rec.date} at {rec.commit[:10]} on {rec.rests_on}: {rec.summary}"
        out.append(Check(cid, version, profile, outcome, rec.outcome, status, detail))
    return out


def _git_commit(cwd: Path) -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _unit_keys(claim: Any, params: Mapping[str, Any], seed: int) -> set[tuple[str, int]]:
    return {
        (json.dumps(dict(u.config), sort_keys=True, default=str), int(u.seed))
        for u in claim.units(params, seed)
    }


def subset_of_full(doc: Mapping[str, Any]) -> tuple[int, int]:
    """``(units of the run, units of the plain full profile)`` for a full run with overrides.

    Raises
    ------
    ValueError
        When the claim is unknown or some unit of the run is not a unit of the
        plain full profile (the overrides changed the protocol, not its extent).
    """
    from .base import REGISTRY

    cid = str(doc.get("id"))
    if cid not in REGISTRY:
        raise ValueError(f"record: {cid} is not a registered claim")
    claim = REGISTRY[cid]
    seed = int(doc.get("seed", 0))
    overrides = {str(k): str(v) for k, v in dict(doc.get("overrides") or {}).items()}
    mine = _unit_keys(claim, claim.resolve("full", overrides), seed)
    full = _unit_keys(claim, claim.resolve("full"), seed)
    extra = mine - full
    if extra:
        raise ValueError(
            f"record: {cid} was run with --set {overrides}, which runs {len(extra)} units the "
            "plain full profile does not (another protocol, not a subset); only plain full-"
            "profile runs, or runs on a subset of their units, are recorded"
        )
    return len(mine), len(full)


def record_results(
    docs: Iterable[Mapping[str, Any]],
    path: str | os.PathLike[str] | None = None,
    *,
    commit: str | None = None,
    date: str | None = None,
) -> list[Record]:
    """Add the full-profile summaries among ``docs`` to the record file; returns what was added.

    A record replaces an earlier one of the same claim, version and profile;
    records of other versions are kept (they are the protocol history).
    Summaries of other profiles are refused, and so are full runs with
    ``--set`` overrides unless their units are a subset of the plain full
    profile's (:func:`subset_of_full`); those are recorded with the overrides
    and the share of units they rest on.
    """
    p = Path(path) if path is not None else RECORDED_PATH
    existing = load_records(p)
    stamp = date or time.strftime("%Y-%m-%d")
    rev = commit or _git_commit(p.parent)
    new = []
    for d in docs:
        if d.get("profile") != "full":
            raise ValueError(
                f"record: {d.get('id')} was run with profile {d.get('profile')!r}; only "
                "full-profile runs are recorded"
            )
        overrides = {str(k): str(v) for k, v in dict(d.get("overrides") or {}).items()}
        units = subset_of_full(d) if overrides else None
        new.append(
            Record(
                claim=str(d["id"]),
                version=int(d.get("claim_version", 1)),
                profile="full",
                outcome=str(d["verdict"]),
                date=stamp,
                commit=rev,
                summary=str(d.get("summary", "")),
                numbers=dict(d.get("numbers") or {}),
                seconds=float(d["seconds"]) if d.get("seconds") is not None else None,
                overrides=overrides,
                units=units,
            )
        )
    keys = {(r.claim, r.version, r.profile) for r in new}
    kept = [r for r in existing if (r.claim, r.version, r.profile) not in keys]
    records = sorted(kept + new, key=lambda r: (r.claim, r.version, r.profile))
    text = json.dumps(
        {"format": _FORMAT, "records": [r.to_json() for r in records]},
        indent=1,
        sort_keys=True,
        allow_nan=False,
    )
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, p)
    return new
