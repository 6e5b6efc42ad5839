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


def lost_input(audit: dict) -> dict[str, dict]:
    """source -> {dead_letters, records, bytes}: the ingest audit's ``lost_input`` section (records a whole
    unreadable or damaged file held count as what it lost, not as one dead letter)."""
    stages = _stages(audit)
    section = stages[0].get("stats", {}).get("lost_input") if stages else None
    return section.get("by_source", {}) if isinstance(section, dict) else {}


def breaches(audit: dict, manifest: Optional[dict], policy: PolicyConfig,
             input_bytes: Optional[dict[str, int]] = None) -> list[str]:
    """One line per breached limit, the most specific first (a source before the whole run).

    Dead letters count the records they lost (``lost_input``): a corrupt file that held 60 records is 60,
    not 1, in the share and in the records read. ``input_bytes`` (source -> bytes of its files, where the
    launcher could list them) adds the same limits in bytes.
    """
    stages = _stages(audit)
    if not stages:
        return []
    first = stages[0]  # the stage that read the sources: what it took in is every record read
    read = {s: int(e.get("in", 0)) for s, e in first.get("by_source", {}).items()}
    lost = lost_input(audit)
    # records lost beyond one per dead letter: unread, so in neither `in` nor the dead-letter counts
    unread = {s: max(0, int(v.get("records", 0)) - int(v.get("dead_letters", 0))) for s, v in lost.items()}
    out = []
    for source in sorted(read):
        kept = int(first["by_source"][source].get("kept", 0))
        if kept < policy.min_source_documents:
            reasons = _source_reasons(audit, source, ("errors", "rejected"))
            out.append(
                f"source {source!r} yielded {kept:,} documents from {read[source]:,} records read "
                f"(policy.min_source_documents is {policy.min_source_documents}); {_biggest(reasons)}; "
                f"see {first['name']} in the audit and OUT/dead_letter"
            )
    total_dead = total_read = 0
    all_reasons: Counter = Counter()
    for source in sorted(read):
        reasons = _source_reasons(audit, source)
        for reason, n in _unread_reasons(audit, source, unread.get(source, 0)).items():
            reasons[reason] += n
        dead = sum(reasons.values())
        records = read[source] + unread.get(source, 0)
        total_dead += dead
        total_read += records
        all_reasons.update(reasons)
        share = dead / records if records else 0.0
        if dead and share > policy.max_dead_letter_share:
            out.append(
                f"source {source!r}: {dead:,} of {records:,} records ({share:.1%}) are dead letters or lost with "
                f"their file, over policy.max_dead_letter_share {policy.max_dead_letter_share:g}; {_biggest(reasons)}; "
                f"see OUT/dead_letter"
            )
        lost_bytes = int(lost.get(source, {}).get("bytes", 0))
        size = (input_bytes or {}).get(source)
        if lost_bytes and size and lost_bytes / size > policy.max_dead_letter_share:
            out.append(
                f"source {source!r}: {lost_bytes:,} of its {size:,} input bytes ({lost_bytes / size:.1%}) could not be "
                f"read, over policy.max_dead_letter_share {policy.max_dead_letter_share:g}; see OUT/dead_letter"
            )
    share = total_dead / total_read if total_read else 0.0
    if total_dead and share > policy.max_dead_letter_share_total:
        out.append(
            f"{total_dead:,} of {total_read:,} records ({share:.1%}) are dead letters, over "
            f"policy.max_dead_letter_share_total {policy.max_dead_letter_share_total:g}; {_biggest(all_reasons)}"
        )
    known = [s for s in read if (input_bytes or {}).get(s)]
    lost_total = sum(int(lost.get(s, {}).get("bytes", 0)) for s in known)
    size_total = sum(input_bytes[s] for s in known) if known else 0
    if lost_total and size_total and lost_total / size_total > policy.max_dead_letter_share_total:
        out.append(
            f"{lost_total:,} of {size_total:,} input bytes ({lost_total / size_total:.1%}) could not be read, over "
            f"policy.max_dead_letter_share_total {policy.max_dead_letter_share_total:g}; see OUT/dead_letter"
        )
    if manifest is not None and not policy.allow_empty_output and int(manifest.get("total_tokens", 0) or 0) == 0:
        lost: Counter = Counter()
        for source in read:
            lost.update(_source_reasons(audit, source, ("errors", "rejected")))
        out.append(
            f"the run wrote no tokens (set policy.allow_empty_output: true to accept that); {_biggest(lost)}"
        )
    return out


def _unread_reasons(audit: dict, source: str, unread: int) -> Counter:
    """The records lost unread, attributed to the ingest error type of the file-level dead letters."""
    out: Counter = Counter()
    if unread:
        types = _stages(audit)[0].get("by_source", {}).get(source, {}).get("error_types", {})
        file_level = sorted(t for t in types if t in FILE_LEVEL_ERRORS) or ["lost_with_file"]
        out[f"{_stages(audit)[0]['name']}:{file_level[0]}"] += unread
    return out


# ingest dead letters that stand for a whole file or its rest (transforms.ingest.read)
FILE_LEVEL_ERRORS = ("corrupt_file", "corrupt_parquet", "truncated_file", "unreadable_file")


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
