"""The failure policy (``policy:`` in the config): when a finished run counts as failed, and its warnings.

Checked by the launcher on the audit and manifest the job wrote, so a failed run still leaves the audit
that says why. Pure functions of those two documents.
"""
from __future__ import annotations

from collections import Counter
from typing import Optional

from pilewright.schemas.config import PolicyConfig

# exit status of a run that finished, wrote its audit, and breached a limit of `policy:`
EXIT_POLICY = 3


def _stages(audit: dict) -> list[dict]:
    return audit.get("stages", []) if isinstance(audit, dict) else []


def _source_reasons(audit: dict, source: str, outcomes=("errors",)) -> Counter:
    """``stage:reason`` -> documents, over every stage, for one source."""
    out: Counter = Counter()
    for st in _stages(audit):
        entry = st.get("by_source", {}).get(source, {})
        if "errors" in outcomes:
            for reason, n in entry.get("error_types", {}).items():
                out[f"{st['name']}:{reason}"] += n
        if "rejected" in outcomes:
            for reason, n in entry.get("reasons", {}).items():
                out[f"{st['name']}:{reason}"] += n
    return out


def _biggest(reasons: Counter) -> str:
    if not reasons:
        return "no records were read"
    reason, n = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    return f"biggest reason {reason} ({n:,})"


def breaches(audit: dict, manifest: Optional[dict], policy: PolicyConfig) -> list[str]:
    """One line per breached limit, the most specific first (a source before the whole run)."""
    stages = _stages(audit)
    if not stages:
        return []
    ingest = stages[0]
    read = {s: int(e.get("in", 0)) for s, e in ingest.get("by_source", {}).items()}
    out = []
    for source in sorted(read):
        kept = int(ingest["by_source"][source].get("kept", 0))
        if kept < policy.min_source_documents:
            reasons = _source_reasons(audit, source, ("errors", "rejected"))
            out.append(
                f"source {source!r} yielded {kept:,} documents from {read[source]:,} records read "
                f"(policy.min_source_documents is {policy.min_source_documents}); {_biggest(reasons)}; "
                f"see {ingest['name']} in the audit and OUT/dead_letter"
            )
    total_dead = total_read = 0
    all_reasons: Counter = Counter()
    for source in sorted(read):
        reasons = _source_reasons(audit, source)
        dead = sum(reasons.values())
        total_dead += dead
        total_read += read[source]
        all_reasons.update(reasons)
        share = dead / read[source] if read[source] else 0.0
        if dead and share > policy.max_dead_letter_share:
            out.append(
                f"source {source!r}: {dead:,} of {read[source]:,} records ({share:.1%}) are dead letters, over "
                f"policy.max_dead_letter_share {policy.max_dead_letter_share:g}; {_biggest(reasons)}; see OUT/dead_letter"
            )
    share = total_dead / total_read if total_read else 0.0
    if total_dead and share > policy.max_dead_letter_share_total:
        out.append(
            f"{total_dead:,} of {total_read:,} records ({share:.1%}) are dead letters, over "
            f"policy.max_dead_letter_share_total {policy.max_dead_letter_share_total:g}; {_biggest(all_reasons)}"
        )
    if manifest is not None and not policy.allow_empty_output and int(manifest.get("total_tokens", 0) or 0) == 0:
        lost: Counter = Counter()
        for source in read:
            lost.update(_source_reasons(audit, source, ("errors", "rejected")))
        out.append(
            f"the run wrote no tokens (set policy.allow_empty_output: true to accept that); {_biggest(lost)}"
        )
    return out


def warnings(audit: dict, policy: PolicyConfig) -> list[str]:
    """Lines the CLI prints after a run that did not fail: duplicate ids that were made unique."""
    out = []
    for st in _stages(audit)[:1]:
        dups = st.get("stats", {}).get("duplicate_ids")
        if not isinstance(dups, dict) or not dups.get("ids"):
            continue
        for source, v in sorted(dups.get("by_source", {}).items()):
            samples = ", ".join(repr(i) for i in v.get("sample_ids", [])[:3])
            out.append(
                f"source {source!r}: {v['ids']:,} document ids are shared by {v['records']:,} records (e.g. "
                f"{samples}); each was made unique as <id>#<file>:<record> (policy.duplicate_ids: error refuses them)"
            )
    return out
