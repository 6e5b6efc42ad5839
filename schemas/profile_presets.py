"""The shipped curation profiles (presets), versioned; see ``schemas/profiles.py`` for how they apply.

Filled in below with the reasoning for each changed threshold.
"""
from __future__ import annotations

PROFILES_VERSION = "profiles_v1"

SHIPPED_PROFILES: dict[str, dict] = {
    "web": {},
    "filings": {},
    "transcripts": {},
    "newswire": {},
}
