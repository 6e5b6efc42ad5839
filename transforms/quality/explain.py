"""How the quality stage's decisions read in ``pilewright explain`` (``EXPLAIN``): every rule set's checks over
the document's stored signals, and its decision recomputed under changed thresholds by its own functions
(``rules.decide``) for ``--what-if``."""
from __future__ import annotations

from typing import Optional

from pilewright.schemas.records import SignalRow
from pilewright.transforms.explain import Check, Explain, at_least, at_most, flat
from pilewright.transforms.quality.rules import decide as quality_decide
from pilewright.transforms.quality.stage import STAGE


def quality_rule_checks(rule: str, s: dict[str, float], cfg) -> list[Check]:
    """The checks of one quality rule set over its signals ``s`` (keys without the rule-set prefix), in
    the order its ``*_reason`` function tries them; a failing check's ``reason`` is that function's code."""
    st = STAGE
    out: list[Optional[Check]] = []
    name = lambda k: f"{rule}:{k}"  # noqa: E731
    if rule == "gopher_quality":
        c = cfg.gopher_quality
        wc, awl = s.get("word_count"), s.get("avg_word_length")
        alpha_key = "alpha_chunks_ratio" if c.alpha_words_over == "whitespace" else "alpha_words_ratio"
        out += [
            at_least(st, name("word_count"), wc, c.min_doc_words, "too_few_words"),
            at_most(st, name("word_count"), wc, c.max_doc_words, "too_many_words"),
            at_least(st, name("avg_word_length"), awl, c.min_avg_word_length, "short_words"),
            at_most(st, name("avg_word_length"), awl, c.max_avg_word_length, "long_words"),
            at_most(st, name("hash_ratio"), s.get("hash_ratio"), c.max_symbol_word_ratio, "hash_ratio"),
            at_most(st, name("ellipsis_ratio"), s.get("ellipsis_ratio"), c.max_symbol_word_ratio, "ellipsis_ratio"),
            at_most(st, name("bullet_lines_ratio"), s.get("bullet_lines_ratio"), c.max_bullet_lines_ratio, "bullet_lines"),
            at_most(st, name("ellipsis_lines_ratio"), s.get("ellipsis_lines_ratio"), c.max_ellipsis_lines_ratio,
                 "ellipsis_lines"),
            at_least(st, name(alpha_key), s.get(alpha_key), c.min_alpha_words_ratio, "alpha_words"),
            at_least(st, name("stop_words"), s.get("stop_words"), c.min_stop_words, "stop_words"),
        ]
    elif rule == "gopher_repetition":
        c = cfg.gopher_repetition
        for key in ("dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac"):
            out.append(at_most(st, name(key), s.get(key), getattr(c, key), key))
        for n, frac in c.top_n_grams.items():
            v = s.get(f"top_{n}_gram_char_frac")
            out.append(None if v is None else Check(st, name(f"top_{n}_gram_char_frac"), v, "<=", frac, v > frac,
                                                    f"top_{n}_gram"))
        for n, frac in c.dup_n_grams.items():
            v = s.get(f"dup_{n}_gram_char_frac")
            out.append(None if v is None else Check(st, name(f"dup_{n}_gram_char_frac"), v, "<=", frac, v > frac,
                                                    f"dup_{n}_gram"))
    elif rule == "fineweb":
        c = cfg.fineweb
        if s.get("lines") == 0:
            out.append(Check(st, name("lines"), 0.0, ">=", 1, True, "empty"))
        else:
            v = s.get("line_punct_ratio")
            if v is not None:
                failed = v < c.line_punct_thr and not (v == 0 and c.line_punct_exclude_zero)
                out.append(Check(st, name("line_punct_ratio"), v, ">=", c.line_punct_thr, failed, "line_punct_ratio"))
            for key, thr in (("short_line_ratio", c.short_line_thr), ("char_dup_ratio", c.char_duplicates_ratio),
                             ("list_ratio", c.new_line_ratio)):
                v = s.get(key)
                if v is not None:
                    out.append(Check(st, name(key), v, "<=", thr, v > thr, key))
    elif rule == "junk":
        c = cfg.junk
        v = s.get("lower_after_stop")
        if v is not None and c.max_lower_after_stop is not None:
            out.append(Check(st, name("lower_after_stop"), v, "<=", c.max_lower_after_stop, v > c.max_lower_after_stop,
                             "word_salad"))
        v = s.get("prep_det_ratio")
        if v is not None and c.min_prep_det_ratio is not None:
            out.append(Check(st, name("prep_det_ratio"), v, ">=", c.min_prep_det_ratio, v < c.min_prep_det_ratio,
                             "word_salad"))
        for key, thr, reason in (("spam_phrases_per_1k", c.max_spam_phrases_per_1k, "spam_phrases"),
                                 ("exclaim_ratio", c.max_exclaim_ratio, "exclamations"),
                                 ("upper_word_ratio", c.max_upper_word_ratio, "shouting")):
            v = s.get(key)
            if v is not None and thr is not None:
                out.append(Check(st, name(key), v, "<=", thr, v > thr, reason))
    elif rule.startswith("c4"):
        c = getattr(cfg, rule)
        for key in ("lorem_ipsum", "curly_bracket"):
            v = s.get(key)
            if v is not None:
                out.append(Check(st, name(key), v, "==", 0.0, bool(v), key))
        v = s.get("num_sentences")
        if v is not None:
            out.append(Check(st, name("num_sentences"), v, ">=", c.min_num_sentences, v < c.min_num_sentences,
                             "too_few_sentences"))
        v = s.get("bad_words")
        if v is not None:
            out.append(Check(st, name("bad_words"), v, "==", 0.0, bool(v), "bad_words"))
    return [c for c in out if c is not None]


def rule_signals(signals: dict[str, float], rule: str) -> dict[str, float]:
    prefix = rule + ":"
    return {k[len(prefix):]: v for k, v in signals.items() if k.startswith(prefix)}


def _empty_for_repetition(cfg, row: SignalRow, s: dict) -> bool:
    """Whether gopher_repetition judged an empty text: the text was empty, or a C4 variant before it in
    ``rules`` removed every line."""
    if row.fate == "rejected" and row.stage == STAGE and row.reason == "gopher_repetition:empty":
        return True
    for rule in cfg.rules:
        if rule == "gopher_repetition":
            return False
        if rule.startswith("c4") and getattr(cfg, rule).remove_lines and s.get(f"{rule}:kept_lines") == 0:
            return True
    return False


def quality_reason(cfg, row: SignalRow) -> Optional[str]:
    """The quality stage's decision over the stored signals, by its own functions (``quality.rules``)."""
    s = dict(row.signals or {})
    for rule in cfg.rules:
        sub = rule_signals(s, rule)
        if not sub and rule != "gopher_repetition":
            raise KeyError(rule)
        text = "" if rule == "gopher_repetition" and _empty_for_repetition(cfg, row, s) else "x"
        reason = quality_decide(rule, sub, cfg, text)
        if reason is not None:
            return f"{rule}:{reason}"
    for c in cfg.classifiers:
        if s[f"classifier:{c.label}"] < c.min_score:
            return f"classifier:{c.label}"
    return None


def checks(cfg, row: SignalRow, dropped: bool) -> list[Check]:
    """Every configured rule set's checks and every classifier's score, over the document's signals."""
    s = dict(row.signals or {})
    out: list[Check] = []
    if any(k.split(":", 1)[0] in cfg.rules for k in s):
        for rule in cfg.rules:
            out += quality_rule_checks(rule, rule_signals(s, rule), cfg)
        for c in cfg.classifiers:
            v = s.get(f"classifier:{c.label}")
            if v is not None:
                out.append(Check(STAGE, f"classifier:{c.label}", v, ">=", c.min_score, v < c.min_score,
                                 f"classifier:{c.label}"))
    if dropped and row.reason.startswith("gopher_repetition:empty"):
        out.append(Check(STAGE, "gopher_repetition:text", "empty", "", None, True, "empty"))
    return out


def _refine(key: str, old_block: Optional[dict], new_block: Optional[dict]) -> bool:
    if key.startswith(("gopher_repetition.top_n_grams.", "gopher_repetition.dup_n_grams.")):
        # a new n-gram length has no stored signal; a changed fraction of a computed one does
        old = flat(old_block or {})
        return key in old and old[key] is not None and key in flat(new_block or {})
    if key.endswith("min_num_sentences"):  # counted only when the old config counted sentences
        old = flat(old_block or {}).get(key)
        return old is not None and old != -1
    return True


EXPLAIN = Explain(
    checks=checks,
    recompute=quality_reason,
    recomputable=(
        "enabled",
        "gopher_quality.min_doc_words", "gopher_quality.max_doc_words", "gopher_quality.min_avg_word_length",
        "gopher_quality.max_avg_word_length", "gopher_quality.max_symbol_word_ratio",
        "gopher_quality.max_bullet_lines_ratio", "gopher_quality.max_ellipsis_lines_ratio",
        "gopher_quality.min_alpha_words_ratio", "gopher_quality.alpha_words_over", "gopher_quality.min_stop_words",
        "gopher_repetition.dup_line_frac", "gopher_repetition.dup_para_frac", "gopher_repetition.dup_line_char_frac",
        "gopher_repetition.dup_para_char_frac", "gopher_repetition.top_n_grams.*", "gopher_repetition.dup_n_grams.*",
        "fineweb.line_punct_thr", "fineweb.line_punct_exclude_zero", "fineweb.short_line_thr",
        "fineweb.char_duplicates_ratio", "fineweb.new_line_ratio",
        "junk.max_lower_after_stop", "junk.min_prep_det_ratio", "junk.max_spam_phrases_per_1k",
        "junk.max_exclaim_ratio", "junk.max_upper_word_ratio",
        "c4.min_num_sentences", "c4_paper.min_num_sentences", "c4_tfds.min_num_sentences",
        "classifiers.*.min_score",
    ),
    refine=_refine,
)
