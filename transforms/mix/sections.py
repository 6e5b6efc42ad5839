"""How the mix stage reads in the audit: its report is the manifest's ``mix`` block, which the summary shows
as target against achieved per domain (``AUDIT_VIEWS``, kind ``shares``); the copy in its stats sections is
not shown twice. Without a mix the same view shows the tokens' split by domain as curated."""
from __future__ import annotations

from typing import Optional

from pilewright.schemas.audit import AuditSection, AuditView, ShareRow, SharesView

MANIFEST_BLOCK = "mix"  # ``schemas.manifest.Manifest.mix``: the stage's report, when mixing

AUDIT_SECTIONS = {"mix": AuditSection("table", "mix", shown=False)}


def domain_shares(audit: dict, manifest: dict, source: Optional[str]) -> Optional[SharesView]:
    """Target vs achieved per domain (narrowed to the source's domain): the mix's report when there is one,
    else the achieved split of the manifest's ``tokens_by_domain``."""
    report = manifest.get(MANIFEST_BLOCK) if isinstance(manifest.get(MANIFEST_BLOCK), dict) else None
    by_domain = manifest.get("tokens_by_domain", {})
    total = sum(int(v.get("tokens", 0)) for v in by_domain.values())
    rows: list[ShareRow] = []
    only_domain = None
    if source is not None:
        src_cfg = [s for s in manifest.get("config", {}).get("sources", []) if s.get("name") == source]
        only_domain = src_cfg[0].get("domain") if src_cfg else None
    if report and isinstance(report.get("domains"), dict):
        for d, v in sorted(report["domains"].items()):
            if only_domain is not None and d != only_domain:
                continue
            rows.append(ShareRow(label=d, target_share=v.get("share"), achieved_share=float(v.get("achieved_share", 0.0)),
                                 target=v.get("target_tokens"), achieved=int(v.get("achieved_tokens", 0))))
        notes = [s.get("message", "") for s in report.get("shortfall", []) if isinstance(s, dict)]
        return SharesView(rows=rows, target_total=report.get("target_tokens"),
                          achieved_total=report.get("achieved_tokens"), notes=notes)
    for d, v in sorted(by_domain.items()):
        if only_domain is not None and d != only_domain:
            continue
        t = int(v.get("tokens", 0))
        rows.append(ShareRow(label=d, achieved_share=round(t / total, 6) if total else 0.0, achieved=t))
    return SharesView(rows=rows)


AUDIT_VIEWS = (
    AuditView("shares", "mix", "Token mix", "MIX", domain_shares, part="output", plot_title="Token mix by domain",
              unit="tokens", noun="domain", note="shortfall",
              empty="No mix block: every curated document is tokenized once; shares are as curated."),
)


def verify_manifest(manifest: dict) -> list[str]:
    """``--verify``: the manifest's totals are what the mix achieved (it redraws the curated documents, so
    they are not what the tokenizer encoded)."""
    report = manifest.get(MANIFEST_BLOCK)
    if not isinstance(report, dict) or "achieved_tokens" not in report:
        return []
    if int(report["achieved_tokens"]) != int(manifest.get("total_tokens", -1)):
        return [f"manifest.json: total_tokens is {manifest.get('total_tokens'):,} but the mix achieved "
                f"{report['achieved_tokens']:,}"]
    return []
