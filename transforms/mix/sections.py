"""How the mix stage's audit section reads (``schemas.audit.AuditSection``): its report is the manifest's
``mix`` block, which the summary shows as target against achieved; the copy in the audit is not shown twice."""
from __future__ import annotations

from pilewright.schemas.audit import AuditSection

AUDIT_SECTIONS = {"mix": AuditSection("table", "mix", shown=False)}
