"""The shipped curation profiles (presets), versioned; ``schemas/profiles.py`` says how they apply.

Each preset is a set of partial stage blocks merged over ``stages:``. Reasoning for every changed
threshold is beside it; the figures come from ``benchmarks/bench_domains.py`` on
``../shared/corpora/finance``. Changing a preset changes decisions: bump ``PROFILES_VERSION`` with it.
"""
from __future__ import annotations

PROFILES_VERSION = "profiles_v1"

SHIPPED_PROFILES: dict[str, dict] = {
    # today's defaults: `stages:` as written, nothing overridden
    "web": {},
    "filings": {
        "normalize": {"rejoin_lines": "table_cells"},
        "langid": {"over": "prose_lines", "min_score": 0.5},
        "quality": {
            "gopher_repetition": {
                "dup_line_frac": 0.6, "dup_para_frac": 0.6, "dup_line_char_frac": 0.5, "dup_para_char_frac": 0.5,
                "dup_n_grams": {5: 0.5, 6: 0.48, 7: 0.46, 8: 0.44, 9: 0.42, 10: 0.4},
                "top_n_grams": {2: 0.35, 3: 0.33, 4: 0.31},
            },
            "gopher_quality": {"min_alpha_words_ratio": 0.5, "max_doc_words": 1_000_000},
            "c4": {"min_num_sentences": 3},
            "fineweb": {"char_duplicates_ratio": 0.2},
        },
    },
    "transcripts": {
        "quality": {
            "gopher_quality": {"alpha_words_over": "whitespace"},
        },
    },
    "newswire": {
        "normalize": {"rejoin_lines": "wrapped"},
        "langid": {"over": "prose_lines"},
        "quality": {
            "gopher_quality": {"min_alpha_words_ratio": 0.6, "min_stop_words": 1},
            "c4": {"min_num_sentences": 1},
        },
    },
}
