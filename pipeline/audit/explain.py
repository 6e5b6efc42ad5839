"""Why a document went, and what a threshold change would do: read from OUT, never re-run.

``explain(run, ids)`` gives each document's path through the stages with every rule's value against its
threshold (``checks``), its fate (kept with shard and row, rejected with stage and reason, dead letter, cut
by the mix) and an excerpt. ``what_if(run, ["quality.gopher_quality.min_doc_words=30", ...])`` applies the
changes to the run's recorded config and recomputes, from the stored signals, the decisions of every stage
whose changed settings are thresholds over those signals (``RECOMPUTABLE``), with the stages' own pure
decision functions; it names every other change as not recomputable, and says when a later stage's
decisions depend on documents the change lets through (dedup's clusters, a stage they never reached).
"""
from __future__ import annotations

import copy
import fnmatch
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Optional

import yaml

from pilewright.pipeline.audit.runfiles import MIX, Run, loadable, stage_config, stage_order
from pilewright.schemas.config import RunConfig, StagesConfig
from pilewright.schemas.errors import UserError
from pilewright.schemas.records import SignalRow
from pilewright.transforms.hashing import stable_hash64
from pilewright.transforms.quality.rules import decide as quality_decide

PII_TOO_MANY = "pii:too_many_entities"  # transforms.pii.stage.TOO_MANY (not imported: it loads Presidio)


class WhatIfError(UserError):
    """A --what-if assignment that cannot be applied."""


@dataclass
class Check:
    """One rule of one stage: the value it computed for the document against the threshold."""

    stage: str
    rule: str
    value: Any
    op: str  # how the value must compare to the threshold to pass: ">=", "<=", "==", "in", or "" (evidence)
    threshold: Any
    failed: bool
    reason: str = ""  # the reason code when it fails

    def text(self) -> str:
        value = _fmt(self.value)
        if not self.op:
            return f"{self.rule}: {value}" + (f"  FAILED ({self.reason})" if self.failed else "")
        verdict = f"FAILED ({self.reason})" if self.failed else "ok"
        return f"{self.rule} = {value}  (pass: {self.op} {_fmt(self.threshold)})  {verdict}"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(map(str, v)) + "]"
    return str(v)


# -- the rules of each stage, as value / threshold pairs -----------------------------------------------
def _on(threshold) -> bool:
    return threshold is not None and threshold != 0 and threshold != -1


def _min(stage, rule, value, threshold, reason) -> Optional[Check]:
    if value is None or not _on(threshold):
        return None
    return Check(stage, rule, value, ">=", threshold, value < threshold, reason)


def _max(stage, rule, value, threshold, reason) -> Optional[Check]:
    if value is None or not _on(threshold):
        return None
    return Check(stage, rule, value, "<=", threshold, value > threshold, reason)


def quality_rule_checks(rule: str, s: dict[str, float], cfg) -> list[Check]:
    """The checks of one quality rule set over its signals ``s`` (keys without the rule-set prefix), in
    the order its ``*_reason`` function tries them; a failing check's ``reason`` is that function's code."""
    st = "quality"
    out: list[Optional[Check]] = []
    name = lambda k: f"{rule}:{k}"  # noqa: E731
    if rule == "gopher_quality":
        c = cfg.gopher_quality
        wc, awl = s.get("word_count"), s.get("avg_word_length")
        alpha_key = "alpha_chunks_ratio" if c.alpha_words_over == "whitespace" else "alpha_words_ratio"
        out += [
            _min(st, name("word_count"), wc, c.min_doc_words, "too_few_words"),
            _max(st, name("word_count"), wc, c.max_doc_words, "too_many_words"),
            _min(st, name("avg_word_length"), awl, c.min_avg_word_length, "short_words"),
            _max(st, name("avg_word_length"), awl, c.max_avg_word_length, "long_words"),
            _max(st, name("hash_ratio"), s.get("hash_ratio"), c.max_symbol_word_ratio, "hash_ratio"),
            _max(st, name("ellipsis_ratio"), s.get("ellipsis_ratio"), c.max_symbol_word_ratio, "ellipsis_ratio"),
            _max(st, name("bullet_lines_ratio"), s.get("bullet_lines_ratio"), c.max_bullet_lines_ratio, "bullet_lines"),
            _max(st, name("ellipsis_lines_ratio"), s.get("ellipsis_lines_ratio"), c.max_ellipsis_lines_ratio,
                 "ellipsis_lines"),
            _min(st, name(alpha_key), s.get(alpha_key), c.min_alpha_words_ratio, "alpha_words"),
            _min(st, name("stop_words"), s.get("stop_words"), c.min_stop_words, "stop_words"),
        ]
    elif rule == "gopher_repetition":
        c = cfg.gopher_repetition
        for key in ("dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac"):
            out.append(_max(st, name(key), s.get(key), getattr(c, key), key))
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


def _rule_signals(signals: dict[str, float], rule: str) -> dict[str, float]:
    prefix = rule + ":"
    return {k[len(prefix):]: v for k, v in signals.items() if k.startswith(prefix)}


def stage_checks(stage: str, cfg: Any, row: SignalRow) -> list[Check]:
    """Every rule of ``stage`` (its config ``cfg`` for the document's source) over the document's row."""
    s, notes = dict(row.signals or {}), dict(row.notes or {})
    dropped_here = row.fate == "rejected" and row.stage == stage
    out: list[Check] = []
    if stage == "langid":
        lang, score = notes.get("langid:lang"), s.get("langid:score")
        if lang is not None and cfg.languages:
            out.append(Check(stage, "langid:lang", lang, "in", list(cfg.languages), lang not in cfg.languages,
                             "not_in_languages"))
        if score is not None:
            out.append(Check(stage, "langid:score", score, ">=", cfg.min_score, score < cfg.min_score, "low_score"))
    elif stage == "quality":
        if any(k.split(":", 1)[0] in cfg.rules for k in s):
            for rule in cfg.rules:
                out += quality_rule_checks(rule, _rule_signals(s, rule), cfg)
            for c in cfg.classifiers:
                v = s.get(f"classifier:{c.label}")
                if v is not None:
                    out.append(Check(stage, f"classifier:{c.label}", v, ">=", c.min_score, v < c.min_score,
                                     f"classifier:{c.label}"))
        if dropped_here and row.reason.startswith("gopher_repetition:empty"):
            out.append(Check(stage, "gopher_repetition:text", "empty", "", None, True, "empty"))
    elif stage == "pii":
        counts = {k[4:]: int(v) for k, v in s.items() if k.startswith("pii:")}
        if counts or dropped_here:
            out.append(Check(stage, "pii:entities", dict(sorted(counts.items())), "", None, False))
        if cfg.drop_document_over is not None:
            total = sum(counts.values())
            out.append(Check(stage, "pii:total", total, "<=", cfg.drop_document_over,
                             total > cfg.drop_document_over, PII_TOO_MANY))
    elif stage == "span_dedup" and "span_dedup:words_left" in s:
        left, words = s["span_dedup:words_left"], s.get("span_dedup:words")
        out.append(Check(stage, "span_dedup:words_left", left, ">=", cfg.min_doc_words, dropped_here, "too_short"))
        out.append(Check(stage, "span_dedup:words_before", words, "", None, False))
    elif stage == "dedup":
        kept = notes.get("dedup:kept")
        if kept is not None:
            how = "exact copy" if row.reason == "dedup:exact" else "near duplicate"
            test = "exact key" if row.reason == "dedup:exact" else _minhash_text(cfg)
            out.append(Check(stage, "dedup:kept_member", kept, "", None, True, f"{how} ({test})"))
        elif notes.get("dedup:cluster") is not None:
            out.append(Check(stage, "dedup:cluster", notes["dedup:cluster"], "", None, False))
    elif stage == "decontaminate":
        if "decontaminate:items" in notes:
            out.append(Check(stage, "decontaminate:ngram", notes.get("decontaminate:ngram", "?"), "", cfg.n, True,
                             f"a {cfg.n}-gram (or a whole short item) of {notes['decontaminate:items']}"))
        if "decontaminate:cut_chars" in s:
            out.append(Check(stage, "decontaminate:cut_chars", s["decontaminate:cut_chars"], "", None, False))
    elif stage == "url_filter" and "url_filter:url" in notes:
        out.append(Check(stage, "url_filter:url", notes["url_filter:url"], "", None, dropped_here, row.reason))
    elif stage == "normalize" and dropped_here:
        out.append(Check(stage, "normalize:chars", row.n_chars, ">=", 1, True, "empty"))
    elif stage == "extract" and dropped_here:
        out.append(Check(stage, "extract:main_text_chars", f"< {cfg.min_chars}", ">=", cfg.min_chars, True, row.reason))
    return out


def _minhash_text(cfg) -> str:
    mh = getattr(cfg, "minhash", None)
    if mh is None:
        return "MinHash"
    return f"MinHash {mh.unit} {mh.ngram}-grams, {mh.bands} bands x {mh.rows} rows, Jaccard ~{(1 / mh.bands) ** (1 / mh.rows):.2f}"


# -- explain ---------------------------------------------------------------------------------------------
@dataclass
class StageStep:
    stage: str
    status: str  # "passed", "failed", "not reached", "dead letter"
    checks: list[Check] = field(default_factory=list)


@dataclass
class Explanation:
    id: str
    found: bool
    source: str = ""
    domain: str = ""
    fate: str = ""  # "kept", "rejected", "dead letter", "cut by the mix", "unknown"
    stage: str = ""
    reason: str = ""
    shards: list[tuple[str, int]] = field(default_factory=list)
    n_tokens: Optional[int] = None
    path: list[StageStep] = field(default_factory=list)
    excerpt: str = ""

    def as_json(self) -> dict:
        return asdict(self)


def explain(run: Run, ids: Iterable[str]) -> list[Explanation]:
    ids = list(ids)
    cfg = run.config
    rows = run.rows_of(ids)
    shards = run.shard_rows([i for i in ids if i in rows and rows[i].fate == "kept"])
    excerpts = run.excerpts(ids)
    out = []
    for doc_id in ids:
        row = rows.get(doc_id)
        dead = run.dead_letters_by_id.get(doc_id)
        if row is None and dead is None:
            out.append(Explanation(doc_id, False, fate="unknown"))
            continue
        if row is None:
            source = dead.get("source") or ""
            e = Explanation(doc_id, True, source, "", "dead letter", dead["stage"],
                            f"{dead['error_type']}: {dead['error']}")
            for st in stage_order(cfg, source):
                status = "dead letter" if st == dead["stage"] else ("passed" if not e.path or e.path[-1].status ==
                                                                    "passed" else "not reached")
                e.path.append(StageStep(st, status))
            out.append(e)
            continue
        e = Explanation(doc_id, True, row.source, row.domain, row.fate, row.stage, row.reason, n_tokens=row.n_tokens,
                        excerpt=excerpts.get(doc_id, ""))
        if row.fate == "kept":
            if doc_id in run.mix_cuts:
                e.fate, e.stage, e.reason = "cut by the mix", MIX, run.mix_cuts[doc_id]
            elif dead is not None:
                e.fate, e.stage, e.reason = "dead letter", dead["stage"], f"{dead['error_type']}: {dead['error']}"
            e.shards = shards.get(doc_id, [])
        status = "passed"
        for st in stage_order(cfg, row.source):
            step_status = status
            if st == e.stage:
                step_status = "failed" if e.fate != "dead letter" else "dead letter"
                status = "not reached"
            scfg = stage_config(cfg, st, row.source) if st not in ("ingest", "tokenize", MIX) else None
            checks = stage_checks(st, scfg, row) if scfg is not None and step_status != "not reached" else []
            e.path.append(StageStep(st, step_status, checks))
        out.append(e)
    return out


def select_ids(run: Run, source: Optional[str] = None, reason: Optional[str] = None, sample: Optional[int] = None,
               seed: int = 0) -> list[str]:
    """Ids of the documents of ``source`` whose reason (or stage, or fate) starts with ``reason``: a
    deterministic sample of ``sample`` of them (lowest blake2b(seed, id) first), or all, sorted."""
    def reasons(doc_id: str, row: SignalRow) -> list[str]:
        if row.fate == "kept":
            return [MIX, f"{MIX}:{run.mix_cuts[doc_id]}"] if doc_id in run.mix_cuts else ["kept"]
        return [row.stage, row.reason, f"{row.stage}:{row.reason}"]

    ids = []
    for doc_id, row in run.rows.items():
        if source is not None and row.source != source:
            continue
        if reason is not None and not any(r == reason or r.startswith(reason) for r in reasons(doc_id, row)):
            continue
        ids.append(doc_id)
    if reason is not None:
        for d in run.dead_letters:
            if d.get("doc_id") and d["doc_id"] not in run.rows and (source is None or d.get("source") == source) \
                    and (d["stage"].startswith(reason) or d["error_type"].startswith(reason) or reason == "dead_letter"):
                ids.append(d["doc_id"])
    if sample is not None:
        ids = sorted(ids, key=lambda i: (stable_hash64(str(seed), "explain", i), i))[:sample]
    return sorted(ids)


def explanation_lines(e: Explanation) -> list[str]:
    """The terminal form of one explanation."""
    if not e.found:
        return [f"{e.id}: not in this run (no signals row, rejected record or dead letter has this id)"]
    lines = [f"{e.id}  (source {e.source}{', domain ' + e.domain if e.domain else ''})"]
    fate = e.fate
    if e.fate == "kept":
        where = ", ".join(f"{p} row {r}" for p, r in e.shards) or "no shard row"
        fate = f"kept: {where}" + (f" ({e.n_tokens} tokens)" if e.n_tokens is not None else "")
    elif e.fate in ("rejected", "cut by the mix", "dead letter"):
        fate = f"{e.fate} at {e.stage}: {e.reason}"
    lines.append(f"  fate: {fate}")
    marks = {"passed": "ok", "failed": "FAILED", "not reached": "-", "dead letter": "DEAD LETTER"}
    lines.append("  path: " + " > ".join(f"{s.stage} [{marks[s.status]}]" for s in e.path))
    for step in e.path:
        for c in step.checks:
            lines.append(f"    {step.stage:<13} {c.text()}")
    if e.excerpt:
        text = " ".join(e.excerpt.split())
        lines.append(f"  excerpt: {text[:200]}{'…' if len(text) > 200 else ''}")
    return lines


# -- what-if ---------------------------------------------------------------------------------------------
# per stage: the settings that are thresholds over stored signals (patterns over the block's dotted keys)
RECOMPUTABLE: dict[str, tuple[str, ...]] = {
    "langid": ("languages", "min_score"),
    "quality": (
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
    "pii": ("drop_document_over",),
}
# stages whose decision for one document depends on the other documents
CROSS_DOCUMENT = ("dedup", "span_dedup")


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(_flat(v, f"{prefix}{i}."))
        return out
    return {prefix[:-1]: value}


def config_changes(a: dict, b: dict) -> list[tuple[str, Any, Any]]:
    """(dotted key, value in a, value in b) of every setting that differs; a missing key is None."""
    fa, fb = _flat(a), _flat(b)
    return [(k, fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]


def parse_assignment(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise WhatIfError(f"--what-if {text!r}: write KEY=VALUE, e.g. quality.gopher_quality.min_doc_words=30")
    key, raw = text.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise WhatIfError(f"--what-if {text!r}: no key before '='")
    if parts[0] in StagesConfig.model_fields:
        parts = ["stages"] + parts
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise WhatIfError(f"--what-if {text!r}: the value is not a YAML scalar or list") from None
    return parts, value


def apply_assignments(written: dict, assignments: Iterable[str]) -> RunConfig:
    """The run's recorded config with ``KEY=VALUE`` assignments applied (keys relative to ``stages`` when
    they start with a stage name), validated as a run would validate it."""
    doc = copy.deepcopy(written)  # every setting as recorded: a key inside a dict setting merges into it
    for text in assignments:
        parts, value = parse_assignment(text)
        node = doc
        for i, p in enumerate(parts[:-1]):
            nxt = node.get(p) if isinstance(node, dict) else None
            if isinstance(node, list):
                try:
                    nxt = node[int(p)]
                except (ValueError, IndexError):
                    raise WhatIfError(f"--what-if {text!r}: {'.'.join(parts[:i + 1])} is not an item of the list")
            elif nxt is None:
                nxt = node[p] = {}
            if not isinstance(nxt, (dict, list)):
                raise WhatIfError(f"--what-if {text!r}: {'.'.join(parts[:i + 1])} is a value, not a block")
            node = nxt
        if isinstance(node, list):
            raise WhatIfError(f"--what-if {text!r}: name a setting of a list item, not the item")
        node[parts[-1]] = value
    try:
        return RunConfig.model_validate(loadable(doc))
    except Exception as e:
        first = str(e).splitlines()
        detail = first[2].strip() if len(first) > 2 else first[0]
        raise WhatIfError(f"--what-if: the changed config is invalid: {first[1] if len(first) > 1 else ''}: {detail}")


def plain_config(value: Any) -> Any:
    """A config model as plain data, every field included (dumps leave some defaults out)."""
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return {name: plain_config(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, dict):
        return {str(k): plain_config(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_config(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _block(cfg: Any) -> Optional[dict]:
    return None if cfg is None else plain_config(cfg)


def _recomputable(stage: str, key: str, old_block: Optional[dict], new_block: Optional[dict]) -> bool:
    patterns = RECOMPUTABLE.get(stage, ())
    if not any(fnmatch.fnmatchcase(key, p) for p in patterns):
        return False
    if key.startswith(("gopher_repetition.top_n_grams.", "gopher_repetition.dup_n_grams.")):
        # a new n-gram length has no stored signal; a changed fraction of a computed one does
        old = _flat(old_block or {})
        return key in old and old[key] is not None and key in _flat(new_block or {})
    if key.endswith("min_num_sentences"):  # counted only when the old config counted sentences
        old = _flat(old_block or {}).get(key)
        return old is not None and old != -1
    return True


@dataclass
class StageChange:
    stage: str
    sources: list[str]
    keys: list[str]
    recomputable: bool
    not_recomputable: list[str] = field(default_factory=list)


@dataclass
class WhatIf:
    assignments: list[str]
    changes: list[StageChange]
    exact: bool
    caveats: list[str]
    # source -> {"docs", "kept_before", "kept_after", "newly_kept", "newly_dropped", "unknown"}
    by_source: dict[str, dict[str, int]]
    newly_kept: list[str]
    newly_dropped: list[str]
    unknown: list[str]
    reasons_after: dict[str, str]  # id -> the new "stage:reason" of a newly dropped document

    def kept_ids(self, run: Run) -> set[str]:
        """The predicted curated set (``unknown`` documents left out)."""
        kept = {i for i, r in run.rows.items() if r.fate == "kept"}
        return (kept - set(self.newly_dropped) - set(self.unknown)) | set(self.newly_kept)

    def as_json(self) -> dict:
        d = asdict(self)
        return d


def _empty_for_repetition(cfg, row: SignalRow, s: dict) -> bool:
    """Whether gopher_repetition judged an empty text: the text was empty, or a C4 variant before it in
    ``rules`` removed every line."""
    if row.fate == "rejected" and row.stage == "quality" and row.reason == "gopher_repetition:empty":
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
        sub = _rule_signals(s, rule)
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


def recompute(stage: str, cfg: Any, row: SignalRow) -> Optional[str]:
    """The stage's reason for the document under ``cfg`` (None: kept), from its stored signals."""
    if cfg is None:
        return None
    if stage == "quality":
        return quality_reason(cfg, row)
    if stage == "langid":
        from pilewright.transforms.langid.stage import langid_reason

        notes, s = dict(row.notes or {}), dict(row.signals or {})
        return langid_reason(notes["langid:lang"], s["langid:score"], cfg)
    if stage == "pii":
        total = sum(v for k, v in (row.signals or {}).items() if k.startswith("pii:"))
        return PII_TOO_MANY if cfg.drop_document_over is not None and total > cfg.drop_document_over else None
    raise KeyError(stage)


def _may_drop(stage: str, cfg: Any) -> bool:
    if stage == "pii":
        return cfg.drop_document_over is not None
    if stage == "normalize":
        return cfg.drop_empty
    return True


def what_if(run: Run, assignments: list[str]) -> WhatIf:
    old_cfg: RunConfig = run.config
    new_cfg = apply_assignments(run.manifest["config"], assignments)
    sources = sorted({s.name for s in old_cfg.sources} | {s.name for s in new_cfg.sources})
    from pilewright.transforms.flow import FLOW

    changes: list[StageChange] = []
    recompute_stages: set[str] = set()
    for spec in FLOW:
        keys: dict[str, set[str]] = {}
        bad: set[str] = set()
        for src in sources:
            a, b = stage_config(old_cfg, spec.name, src), stage_config(new_cfg, spec.name, src)
            ba, bb = _block(a), _block(b)
            if ba == bb:
                continue
            if (ba is None) != (bb is None):  # turned on or off for a source
                key = "enabled"
                keys.setdefault(key, set()).add(src)
                if not (spec.name == "quality" and bb is None):
                    bad.add(key)
                continue
            for key, _x, _y in config_changes(ba, bb):
                keys.setdefault(key, set()).add(src)
                if not _recomputable(spec.name, key, ba, bb):
                    bad.add(key)
        if keys:
            ok = not bad
            changes.append(StageChange(spec.name, sorted(set().union(*keys.values())), sorted(keys), ok, sorted(bad)))
            if ok:
                recompute_stages.add(spec.name)
    other = [k for k, _a, _b in config_changes(
        {k: v for k, v in plain_config(old_cfg).items() if k not in ("stages", "profiles")},
        {k: v for k, v in plain_config(new_cfg).items() if k not in ("stages", "profiles")})]
    caveats: list[str] = []
    exact = all(c.recomputable for c in changes)
    for c in changes:
        if not c.recomputable:
            caveats.append(f"{c.stage}: not recomputable from the stored signals: {', '.join(c.not_recomputable)} "
                           "(rerun to see its effect); its decisions are kept as they were")
    if other:
        caveats.append(f"settings outside the curation stages changed ({', '.join(other)}): they act after "
                       "curation (tokenizer, mix, shards), so the curated set below does not show them")

    newly_kept, newly_dropped, unknown = [], [], []
    reasons_after: dict[str, str] = {}
    cross_hit: set[str] = set()
    by_source: dict[str, dict[str, int]] = {}
    for doc_id, row in sorted(run.rows.items()):
        order = [st for st in stage_order(old_cfg, row.source) if st not in ("ingest", "tokenize", MIX)]
        new_order = [st for st in stage_order(new_cfg, row.source) if st not in ("ingest", "tokenize", MIX)]
        kept_before = row.fate == "kept"
        fate, new_reason = "kept", ""
        if row.fate == "rejected" and row.stage not in order:  # ingest: decided before any curation stage
            fate, new_reason = "rejected", f"{row.stage}:{row.reason}"
        else:
            for st in new_order:
                reached = kept_before or (st in order and order.index(st) <= order.index(row.stage))
                if not reached:
                    if _may_drop(st, stage_config(new_cfg, st, row.source)):
                        fate = "unknown"
                        cross_hit.add(st)
                        break
                    continue
                if st in recompute_stages:
                    reason = recompute(st, stage_config(new_cfg, st, row.source), row)
                elif st == row.stage and not kept_before:
                    reason = row.reason
                else:
                    reason = None
                if reason is not None:
                    fate, new_reason = "rejected", reason if reason.startswith(st + ":") else f"{st}:{reason}"
                    break
        entry = by_source.setdefault(row.source, {"docs": 0, "kept_before": 0, "kept_after": 0, "newly_kept": 0,
                                                   "newly_dropped": 0, "unknown": 0})
        entry["docs"] += 1
        entry["kept_before"] += kept_before
        if fate == "unknown":
            unknown.append(doc_id)
            entry["unknown"] += 1
            continue
        kept_after = fate == "kept"
        entry["kept_after"] += kept_after
        if kept_after and not kept_before:
            newly_kept.append(doc_id)
            entry["newly_kept"] += 1
        elif kept_before and not kept_after:
            newly_dropped.append(doc_id)
            reasons_after[doc_id] = new_reason
            entry["newly_dropped"] += 1
    if unknown:
        exact = False
        caveats.append(f"{len(unknown)} documents the change lets through would then reach "
                       f"{', '.join(sorted(cross_hit))}, which never saw them: their fate is unknown (left out)")
    flipped = newly_kept or newly_dropped or unknown
    if flipped:
        first = min((i for i, s in enumerate(FLOW) if s.name in {c.stage for c in changes}), default=len(FLOW))
        later = [s.name for s in FLOW[first + 1:] if s.name in CROSS_DOCUMENT
                 and any(stage_config(new_cfg, s.name, src) is not None for src in sources)]
        if later:
            exact = False
            caveats.append(f"{', '.join(later)} decide each document against the others: documents that flip can "
                           "change their decisions for documents that did not (a rerun tells)")
    return WhatIf(list(assignments), changes, exact, caveats, by_source, newly_kept, newly_dropped, unknown,
                  reasons_after)


def what_if_lines(w: WhatIf) -> list[str]:
    lines = [f"what if: {', '.join(w.assignments)}"]
    for c in w.changes:
        state = "recomputed from the stored signals" if c.recomputable else "NOT recomputable"
        lines.append(f"  {c.stage}: {', '.join(c.keys)} ({state}; sources {', '.join(c.sources)})")
    lines.append(f"  {'source':<20} {'docs':>7} {'kept before':>12} {'kept after':>12} {'+kept':>7} {'-kept':>7}"
                 f" {'unknown':>8}")
    for src, e in sorted(w.by_source.items()):
        before = 100.0 * e["kept_before"] / e["docs"] if e["docs"] else 0.0
        after = 100.0 * e["kept_after"] / e["docs"] if e["docs"] else 0.0
        lines.append(f"  {src:<20} {e['docs']:>7} {e['kept_before']:>6} {before:>4.1f}% {e['kept_after']:>6} "
                     f"{after:>4.1f}% {e['newly_kept']:>7} {e['newly_dropped']:>7} {e['unknown']:>8}")
    lines.append(f"  prediction: {'exact' if w.exact else 'NOT exact'}")
    for c in w.caveats:
        lines.append(f"  note: {c}")
    return lines
