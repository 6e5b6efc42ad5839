"""The shipped curation profiles (presets), versioned; ``schemas/profiles.py`` says how they apply.

Each preset is a set of partial stage blocks merged over ``stages:`` (so a run's own ``stages:`` choices,
e.g. its languages, still hold). Every threshold a preset changes says which rule fires on what and why
that is wrong for the kind of text; the figures come from ``benchmarks/bench_domains.py`` on
``../shared/corpora/finance``. What a preset leaves alone still applies: C4's lorem-ipsum, javascript,
curly-bracket and policy rules, the bullet/ellipsis/symbol ratios, the word-length bounds, the top n-gram
rules (loosened only for filings), langid's language list, and every rule of ``stages:`` a preset does not
name, which is how spam, navigation menus, word salad, other languages and tables without prose still go
under every profile. Changing a preset changes decisions: bump ``PROFILES_VERSION`` with it.
"""
from __future__ import annotations

PROFILES_VERSION = "profiles_v2"

# The web rule sets plus pilewright's junk signals (word salad, spam phrases, exclamations): the domain
# profiles loosen the sentence, repetition and letter rules that catch most junk on the web, so they judge
# junk on signals that do not depend on those (``transforms/quality/junk.py``). First, so it judges the
# whole text and not what C4's line removal leaves.
DOMAIN_RULES = ["junk", "gopher_repetition", "gopher_quality", "c4", "fineweb"]

SHIPPED_PROFILES: dict[str, dict] = {
    # Web text: today's defaults (`stages:` as written, nothing overridden).
    "web": {},
    # SEC/EDGAR documents extracted to text (10-K, 10-Q, 8-K, 6-K, proxies, prospectuses, SGML submissions).
    "filings": {
        "normalize": {
            # HTML extraction puts every table cell and inline element on its own line, so whole
            # "paragraphs" ("$", "—", "2023") repeat and no line ends a sentence: rejoin wrapped lines and
            # runs of cells, so the repetition and line rules judge prose.
            "rejoin_lines": "table_cells",
            # Judge the filing a reader reads, not EDGAR's machinery (``transforms/normalize/filings.py``):
            # two inline-XBRL 8-Ks fell to gopher_quality:alpha_words on their hidden XBRL facts and the
            # XBRL schema, linkbases and JSON attached to the submission; a 1998 8-K to langid:low_score on
            # its typewritten layout (rule lines, hard wraps). With these on, all 29 prose filings of
            # ../shared/corpora/finance but a 6-K cover page with one sentence are kept (28, 96.6%).
            "strip_xbrl_header": True, "strip_edgar_boilerplate": True, "rejoin_fixed_width": True,
            # Forms and data are not prose: the web rules dropped them by accident (a Form D as
            # langid:low_score, an SGML header as not_in_languages, an EDGAR index page as char_dup_ratio)
            # or kept them. Now all 6 in the corpus (XML Forms 4 and D, an SGML header alone, a Form 4 text
            # table, a Form 24F-2, an index page) and the XML forms' visible text (8 of 8) go as
            # filings:not_prose, before langid and quality see them.
            "drop_not_prose": True,
        },
        # Numeric tables pulled 4 of 35 filings below 0.65 (read whole); read the prose lines only. 0.5:
        # filings hold addresses, names and form captions on prose-looking lines (a proxy's list of
        # fund addresses scored 0.61); another language still scores high in its own language and goes
        # as not_in_languages.
        "langid": {"over": "prose_lines", "min_score": 0.5},
        "quality": {
            "rules": DOMAIN_RULES,
            # A filing is judged by its prose: its table lines (rows of figures, rules) are set aside when
            # the rules compute their signals, and kept in its text.
            "set_aside_tables": True,
            # "Risk-free" (rate), "cash bonus", "no obligation" (to update forward-looking statements) are
            # finance, not spam: an 8-K on executive pay reached 2.51 per 1,000 words of prose. 5 keeps it;
            # spam bodies are still dropped at 85% (of 100) and all junk at 96.9% under this profile.
            "junk": {"max_spam_phrases_per_1k": 5.0},
            "gopher_repetition": {
                # Legal text repeats itself by design (defined terms, risk factors, the same caption on
                # every page): the web thresholds (0.3 / 0.2) dropped 15 of 35 filings on dup_para_frac
                # and, after rejoining, 10 on dup_5_gram (real 10-Ks sit at 0.17-0.37 of characters in
                # duplicated 5-grams). Doubled-and-more, a page that is mostly one repeated block still goes.
                "dup_line_frac": 0.6, "dup_para_frac": 0.6, "dup_line_char_frac": 0.5, "dup_para_char_frac": 0.5,
                "dup_n_grams": {5: 0.5, 6: 0.48, 7: 0.46, 8: 0.44, 9: 0.42, 10: 0.4},
                # A short cover page (6-K, 8-K) repeats its form names ("Form 20-F ☒ Form 40-F ☐") past
                # 0.2; ASCII-art forms (rules of underscores) still score 0.6 and more.
                "top_n_grams": {2: 0.35, 3: 0.33, 4: 0.31},
            },
            "gopher_quality": {
                # Tickers, amounts, dates and section numbers are words without a letter: filings sit at
                # 0.69-0.86 (tokens), so 0.8 dropped 9 of 35. Forms and data now go as not_prose and tables
                # are set aside; a document of figures with little prose still stays below 0.5.
                "min_alpha_words_ratio": 0.5,
                # A prospectus runs past 100k words (170k in the corpus); size is not a quality signal here.
                "max_doc_words": 1_000_000,
            },
            # An 8-K item is often three or four sentences of prose around a table.
            "c4": {"min_num_sentences": 3},
            # FineWeb's 1% duplicated-line characters fires on every page header ("Table of Contents")
            # repeated through a long filing; 0.2 keeps those and drops documents a fifth duplicated.
            "fineweb": {"char_duplicates_ratio": 0.2},
        },
    },
    # Earnings-call transcripts: speaker turns, prepared remarks, Q&A.
    "transcripts": {
        "quality": {
            "rules": DOMAIN_RULES,
            "gopher_quality": {
                # Counted over spaCy tokens, every comma, dash and "[Operator Instructions]" bracket is a
                # word without a letter, and spoken numbers are written as figures: 22 of 600 calls fell
                # below 0.8. The paper's whitespace words measure the same thing without punctuation.
                "alpha_words_over": "whitespace",
            },
        },
    },
    # Short business news items (wire briefs, Reuters-style).
    "newswire": {
        # Wires are hard-wrapped at ~65 columns: C4 removes every wrapped line (no end mark) and then finds
        # too few sentences (1,227 of 2,781 Reuters items). Rejoin lines a wrap broke; table rows stay rows.
        "normalize": {"rejoin_lines": "wrapped"},
        # Results briefs carry a few lines of figures under the headline; judge the prose lines.
        "langid": {"over": "prose_lines"},
        "quality": {
            "rules": DOMAIN_RULES,
            "gopher_quality": {
                # Amounts, percentages and tickers: briefs sit near 0.7 of words with a letter.
                "min_alpha_words_ratio": 0.6,
                # A three-sentence brief in headline style ("Olin Corp said its board will elect...") can
                # hold one of the eight stop words; a results table holds none.
                "min_stop_words": 1,
            },
            # A brief is one to four sentences by nature; C4's 5 would drop most of a wire.
            "c4": {"min_num_sentences": 1},
        },
    },
}
