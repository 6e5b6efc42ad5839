"""How the shard stage reads in the audit: the manifest's ``shards`` list and ``tokenizer``, as the parts a
run delivers (``AUDIT_VIEWS``, kind ``parts``)."""
from __future__ import annotations

from typing import Optional

from pilewright.schemas.audit import AuditView, PartsView


def written_shards(audit: dict, manifest: dict, source: Optional[str]) -> Optional[PartsView]:
    """The shards and their tokenizer, for every source (None for one source, or without a manifest)."""
    listed = manifest.get("shards")
    if listed is None or source is not None:
        return None
    tokens = [int(s["tokens"]) for s in listed]
    tok = manifest.get("tokenizer", {})
    return PartsView(count=len(listed), docs=sum(int(s["docs"]) for s in listed), tokens=sum(tokens),
                     bytes=sum(int(s.get("bytes", 0)) for s in listed), min_tokens=min(tokens) if tokens else 0,
                     max_tokens=max(tokens) if tokens else 0, tokens_per_part=tokens, vocab_size=tok.get("vocab_size"),
                     token_dtype=tok.get("token_dtype"), tokenizer_sha256=tok.get("sha256"))


AUDIT_VIEWS = (
    AuditView("parts", "shards", "Shards", "SHARDS", written_shards, part="output", plot_title="Tokens per shard",
              noun="shard", empty="No manifest."),
)
