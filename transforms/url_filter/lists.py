"""Pure logic of the ``url_filter`` stage: parsing the list files and deciding one URL."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional
from urllib.parse import urlsplit

import tldextract

# the bundled public-suffix snapshot only: nothing is fetched or cached at run time
_OFFLINE_TLD = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)


def parse_list(text: str, domains: bool) -> list[str]:
    """Entries of one list file: stripped, lowercased, comments and blank lines dropped.

    Domain entries may be written as URLs or with a leading ``*.`` or ``.``; they are reduced to the host.
    """
    out = []
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip().lower()
        if not entry:
            continue
        if domains:
            if "://" in entry:
                entry = urlsplit(entry).hostname or ""
            entry = entry.lstrip("*.").rstrip(".")
            if not entry:
                continue
        out.append(entry)
    return out


def host_of(url: str) -> Optional[str]:
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return host.rstrip(".").lower() if host else None


def candidate_domains(host: str) -> list[str]:
    """The host and each parent of it down to its registered domain (an IP or bare name: itself)."""
    ext = _OFFLINE_TLD.extract_str(host) if hasattr(_OFFLINE_TLD, "extract_str") else _OFFLINE_TLD(host)
    registered = ext.top_domain_under_public_suffix if hasattr(ext, "top_domain_under_public_suffix") else ext.registered_domain
    if not registered:
        return [host]
    out = [host]
    labels = host.split(".")
    for i in range(1, len(labels)):
        parent = ".".join(labels[i:])
        if len(parent) < len(registered):
            break
        out.append(parent)
    return out


@dataclass(frozen=True)
class UrlLists:
    block_domains: frozenset[str] = frozenset()
    block_substrings: tuple[str, ...] = ()
    allow_domains: frozenset[str] = frozenset()
    allow_substrings: tuple[str, ...] = ()

    @property
    def has_allow(self) -> bool:
        return bool(self.allow_domains or self.allow_substrings)


def build_lists(block_domains: Iterable[str] = (), block_substrings: Iterable[str] = (),
                allow_domains: Iterable[str] = (), allow_substrings: Iterable[str] = ()) -> UrlLists:
    # substrings in a fixed order (sorted) so the first match, and so the reason, never depends on file order
    return UrlLists(
        frozenset(block_domains), tuple(sorted(set(block_substrings))),
        frozenset(allow_domains), tuple(sorted(set(allow_substrings))),
    )


def url_reason(url: Optional[str], lists: UrlLists) -> Optional[str]:
    """Rejection reason for one URL, or None to keep. Pure."""
    if not url:
        return None
    lowered = url.lower()
    host = host_of(url)
    domains = candidate_domains(host) if host else []
    if lists.block_domains and any(d in lists.block_domains for d in domains):
        return "url:blocked_domain"
    if any(s in lowered for s in lists.block_substrings):
        return "url:blocked_substring"
    if lists.has_allow:
        if any(d in lists.allow_domains for d in domains) or any(s in lowered for s in lists.allow_substrings):
            return None
        return "url:not_allowed"
    return None
