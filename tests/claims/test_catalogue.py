"""The claim catalogue in docs/ is generated from the registry and must be current."""

from __future__ import annotations

from pathlib import Path

from dltheory.claims.catalogue import builtin_claims, catalogue_markdown
from dltheory.claims.recorded import load_records

DOCS = Path(__file__).resolve().parents[2] / "docs" / "claims.md"


def test_docs_catalogue_is_current() -> None:
    assert DOCS.read_text(encoding="utf-8") == catalogue_markdown(), (
        "docs/claims.md is stale: run `make catalogue` (dltheory list --markdown > docs/claims.md)"
    )


def test_every_claim_states_its_rule_and_has_a_recorded_full_verdict() -> None:
    records = load_records()
    for claim in builtin_claims():
        assert claim.rule.strip(), f"{claim.id}: no rule text"
        full = [
            r
            for r in records
            if r.claim == claim.id and r.version == claim.version and r.profile == "full"
        ]
        assert full, (
            f"{claim.id} v{claim.version}: no recorded full verdict (dltheory verdicts --record)"
        )
        for rev in claim.history:  # each revision is newer than the version it replaces
            assert 2 <= rev.version <= claim.version and rev.change and rev.why


def test_catalogue_lists_parameters_and_excludes_plugins() -> None:
    text = catalogue_markdown()
    for claim in builtin_claims():
        assert f"## {claim.id}" in text
        for p in claim.params:
            assert f"| `{p.name}` |" in text
    assert "fast-toy" not in text  # test plugins (DLTHEORY_EXTRA_CLAIMS) are not built in
