"""The decontaminate stage: normalization, the index, GPT-3's cut, eval-file errors, and the stage in Beam."""
from __future__ import annotations

import gzip
import json

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from pydantic import ValidationError

from pilewright.schemas.stages.decontaminate import DecontaminateConfig
from pilewright.schemas.records import Document
from pilewright.transforms.decontaminate import Decontaminate, EvalIndex, EvalSetError, check_eval_sets
from pilewright.transforms.decontaminate.cut import cut, merge
from pilewright.transforms.decontaminate.index import Match
from pilewright.transforms.decontaminate.ngrams import ngram_hashes, norm_word_spans, norm_words, word_hashes
from pilewright.transforms.decontaminate.stage import decide
from conftest import assert_conserved

Q1 = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
      "How many clips did Natalia sell altogether in April and May?")
Q2 = "Which of the following statements about the mitochondrial electron transport chain is correct?"
SHORT = "What happens if you eat watermelon seeds?"  # 7 words: below n, above min_words=5
FILLER = ("The river flows through the old town and past the mill before it reaches the sea. " * 6).strip()


def write_jsonl(path, rows, gz=False):
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return str(path)


def cfg_for(tmp_path, **kw):
    gsm = write_jsonl(tmp_path / "gsm.jsonl.gz", [{"id": "g1", "question": Q1, "answer": "72"}], gz=True)
    table = pa.table({"question": [Q2], "choices": [["A", "B"]], "id": ["m1"]})
    pq.write_table(table, tmp_path / "mmlu.parquet")
    tqa = write_jsonl(tmp_path / "tqa.jsonl", [{"question": SHORT}, {"question": "Too short."}])
    sets = [
        {"name": "gsm8k", "paths": [gsm], "fields": ["question"], "id_field": "id"},
        {"name": "mmlu", "paths": [str(tmp_path / "*.parquet")], "fields": ["question", "choices"], "id_field": "id"},
        {"name": "tqa", "paths": [tqa], "fields": ["question"]},
    ]
    return DecontaminateConfig(sets=sets, min_words=5, **kw)


def doc(i, text, source="web"):
    return Document(id=i, text=text, source=source, domain="general")


# ---- pure functions


def test_norm_words_ignores_case_punctuation_whitespace_and_masks_numbers():
    a = norm_words("Natalia sold clips to 48 of her friends, in April!")
    b = norm_words("natalia   SOLD clips to 49 of her friends in april")
    assert a == b
    assert norm_words("x_y 3.5 1,000", mask_numbers=False) == ["x", "y", "3.5", "1,000"]
    assert norm_words("x_y 3.5 1,000 1000 a1") == ["x", "y", "0", "0", "0", "a0"]
    assert norm_words("It cost 1,000 dollars.") == norm_words("it cost 1000 dollars")


def test_word_spans_give_the_same_words_and_true_offsets():
    text = "  Hello, WORLD: 42 times\u00e9t\u00e9!"
    words, starts, ends = norm_word_spans(text)
    assert words == norm_words(text)
    assert [text[s:e].lower() for s, e in zip(starts, ends)][:2] == ["hello", "world"]


def test_ngram_hashes_are_windows_of_the_polynomial():
    wh = word_hashes(["a", "b", "c", "d"])
    h3 = ngram_hashes(wh, 3)
    assert len(h3) == 2
    assert h3[1] == ngram_hashes(word_hashes(["b", "c", "d"]), 3)[0]
    assert len(ngram_hashes(wh, 5)) == 0
    assert ngram_hashes(wh, 2)[0] != ngram_hashes(word_hashes(["b", "a"]), 2)[0]  # order matters


def test_index_finds_verbatim_edited_and_short_items_only(tmp_path):
    ix = EvalIndex.build(cfg_for(tmp_path))
    assert [s.indexed for s in ix.summaries] == [1, 1, 1]
    assert ix.summaries[2].unprotected == 1
    assert ix.short_lengths == (7,)

    def sets(text):
        return sorted({ix.set_of(i) for m in ix.matches(norm_words(text)) for i in m.items})

    assert sets(f"{FILLER} {Q1} {FILLER}") == ["gsm8k"]
    assert sets(Q1.upper().replace("48", "50").replace(",", "")) == ["gsm8k"]
    assert sets(f"Quiz. {Q2} A B.") == ["mmlu"]
    assert sets(f"So, what happens if you EAT watermelon seeds? Nothing.") == ["tqa"]
    assert sets(FILLER) == []
    # paraphrase: no 13 words in a row shared
    assert sets("In April Natalia sold clips to 48 friends; in May she sold half that number. Total?") == []


def test_runs_of_numbers_are_not_indexed(tmp_path):
    table = " ".join(str(i) for i in range(40))
    rows = [{"q": "Which is the next term in this sequence of whole numbers: " + table}, {"q": "1 2 3 4 5 6 7 8 9 10 11 12 13 14"}]
    cfg = DecontaminateConfig(sets=[{"name": "x", "paths": [write_jsonl(tmp_path / "x.jsonl", rows)], "fields": ["q"]}])
    ix = EvalIndex.build(cfg)
    assert ix.summaries[0].indexed == 1 and ix.summaries[0].unprotected == 1
    assert ix.matches(norm_words("Season results " + " ".join(str(i * 7) for i in range(60)))) == []
    assert ix.matches(norm_words("Which is the next term in this sequence of whole numbers: 5 6 7 8 9 10"))


def test_cut_removes_spans_with_margin_and_small_pieces():
    text = "A" * 300 + " bad words here " + "B" * 100 + " tail " + "C" * 400
    words, starts, ends = norm_word_spans(text)
    i = words.index("bad")
    res = cut(text, [Match(i, 3, (0,))], starts, ends, margin=10, min_fragment_chars=200)
    # both pieces are long enough; the margin takes 10 characters of each side
    assert res.reason is None and res.cuts == 1
    a, b = text.index("bad") - 10, text.index("here") + 4 + 10
    assert res.text == text[:a].strip() + "\n" + text[b:].strip()
    # a wider margin leaves "B..." plus " tail " too short on its own: only A and C pieces remain
    res = cut(text, [Match(i, 3, (0,))], starts, ends, margin=50, min_fragment_chars=200)
    assert res.text.count("\n") == 1 and "tail" in res.text
    assert cut(text, [Match(i, 3, (0,))], starts, ends, margin=2000).reason == "nothing_left"
    many = [Match(k, 1, (0,)) for k in range(len(words))]
    assert cut(text, many, starts, ends, margin=0, max_cuts=2).reason == "too_many_cuts"
    assert merge([(5, 8), (0, 3), (3, 4)]) == [(0, 4), (5, 8)]


def test_decide_cut_keeps_the_clean_parts(tmp_path):
    cfg = cfg_for(tmp_path, action="cut")
    ix = EvalIndex.build(cfg)
    long_clean = "Clean text about rivers and mills. " * 20
    kept, reason, found, cuts = decide(doc("d", long_clean + Q1 + " " + long_clean), ix, cfg)
    assert reason is None and cuts == 1 and found == {"gsm8k": ("g1",)}
    assert "Natalia" not in kept.text and kept.quality["decontaminate:cut_chars"] > len(Q1)
    kept, reason, _, _ = decide(doc("e", Q1), ix, cfg)
    assert kept is None and reason == "decontaminate:nothing_left"


# ---- evaluation file errors


def test_missing_field_names_file_and_field(tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"question": "q one two three"}, {"prompt": "no question"}])
    cfg = DecontaminateConfig(sets=[{"name": "x", "paths": [bad], "fields": ["question"]}])
    with pytest.raises(EvalSetError, match=r"bad\.jsonl: record 2 has no field 'question'"):
        check_eval_sets(cfg)
    pq.write_table(pa.table({"prompt": ["a"]}), tmp_path / "p.parquet")
    cfg = DecontaminateConfig(sets=[{"name": "x", "paths": [str(tmp_path / "p.parquet")], "fields": ["question"]}])
    with pytest.raises(EvalSetError, match=r"p\.parquet: no field 'question'"):
        check_eval_sets(cfg)


def test_empty_or_missing_eval_file_is_an_error(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")
    cfg = DecontaminateConfig(sets=[{"name": "x", "paths": [str(tmp_path / "empty.jsonl")], "fields": ["q"]}])
    with pytest.raises(EvalSetError, match=r"evaluation set 'x': .*empty\.jsonl holds no records"):
        check_eval_sets(cfg)
    cfg = DecontaminateConfig(sets=[{"name": "x", "paths": [str(tmp_path / "nope*.jsonl")], "fields": ["q"]}])
    with pytest.raises(EvalSetError, match="no file matches"):
        check_eval_sets(cfg)


def test_config_checks():
    with pytest.raises(ValidationError, match="used once"):
        DecontaminateConfig(sets=[{"name": "a", "paths": ["p"], "fields": ["q"]}] * 2)
    with pytest.raises(ValidationError):
        DecontaminateConfig(sets=[])
    with pytest.raises(ValidationError, match="min_words"):
        DecontaminateConfig(n=5, min_words=8, sets=[{"name": "a", "paths": ["p"], "fields": ["q"]}])


# ---- the stage in Beam


def test_stage_drops_contaminated_documents_and_reports_per_set(tmp_path):
    cfg = cfg_for(tmp_path)
    docs = [doc("a", FILLER), doc("b", f"{FILLER} {Q1}"), doc("c", Q1.lower()), doc("d", f"{Q2} {SHORT}"),
            doc("e", FILLER + " what happens if you eat")]
    with TestPipeline() as p:
        res = p | beam.Create(docs) | Decontaminate(cfg)
        assert_that(res.main | beam.Map(lambda d: d.id), equal_to(["a", "e"]), label="kept")
        assert_that(res.rejected | beam.Map(lambda r: (r.id, r.reason)),
                    equal_to([("b", "decontaminate:gsm8k"), ("c", "decontaminate:gsm8k"),
                              ("d", "decontaminate:mmlu")]), label="rejected")
        assert_that(res.errors, equal_to([]), label="errors")

        def check(stats):
            (section, payload), = stats
            assert section == "evaluation_sets"
            s = json.loads(payload)
            assert s["gsm8k"] == {"items": 1, "protected": 1, "unprotected": 0, "items_found": 1, "documents": 2,
                                  "sample_item_ids": ["g1"], "sample_doc_ids": ["b", "c"]}
            assert s["mmlu"]["documents"] == 1 and s["tqa"]["documents"] == 1
            assert s["tqa"]["unprotected"] == 1 and s["tqa"]["sample_item_ids"] == ["tqa.jsonl:1"]

        assert_that(res.stats, check, label="stats")


def test_stage_cut_action_in_beam(tmp_path):
    cfg = cfg_for(tmp_path, action="cut")
    clean = "Clean text about rivers and mills. " * 20
    with TestPipeline() as p:
        res = p | beam.Create([doc("a", clean + Q1 + " " + clean), doc("b", Q1)]) | Decontaminate(cfg)
        assert_that(res.main | beam.Map(lambda d: (d.id, "Natalia" in d.text)), equal_to([("a", False)]), label="k")
        assert_that(res.rejected | beam.Map(lambda r: r.reason), equal_to(["decontaminate:nothing_left"]), label="r")


# ---- before the run: the CLI checks evaluation files and resolves their paths


def _config_file(tmp_path, eval_rows, fields="[question]"):
    (tmp_path / "data.jsonl").write_text(json.dumps({"id": "1", "text": "hello world"}) + "\n")
    (tmp_path / "evals").mkdir(exist_ok=True)
    (tmp_path / "evals" / "gsm.jsonl").write_text("".join(json.dumps(r) + "\n" for r in eval_rows))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "sources: [{name: s, paths: [data.jsonl], format: jsonl}]\n"
        f"stages: {{decontaminate: {{sets: [{{name: gsm8k, paths: [evals/gsm.jsonl], fields: {fields}}}]}}}}\n"
    )
    return cfg


def test_cli_names_file_and_field_and_exits_2(tmp_path, capsys):
    from pilewright.pipeline.cli.main import main

    cfg = _config_file(tmp_path, [{"prompt": "What is two plus two?"}])
    assert main(["run", "--config", str(cfg), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "gsm.jsonl: record 1 has no field 'question'" in err[0], err


def test_cli_refuses_an_empty_eval_file(tmp_path, capsys):
    from pilewright.pipeline.cli.main import main

    cfg = _config_file(tmp_path, [])
    assert main(["run", "--config", str(cfg), "--output", str(tmp_path / "out")]) == 2
    assert "holds no records" in capsys.readouterr().err


def test_a_cli_run_reads_the_evaluation_sets_once_before_it_starts(tmp_path, monkeypatch):
    """The CLI checks the inputs before it announces the run; the job does not check them again (each
    check builds the whole index: ~2.5 s for MMLU, GSM8K, TruthfulQA and HumanEval)."""
    from pilewright.pipeline.cli.main import main
    from pilewright.pipeline.job import build

    builds = []
    real = EvalIndex.build.__func__
    monkeypatch.setattr(EvalIndex, "build",
                        classmethod(lambda cls, cfg, items=None: builds.append(1) or real(cls, cfg, items)))

    class Started(Exception):
        pass

    def started(*_a, **_k):
        raise Started

    monkeypatch.setattr(build, "run_phases", started)  # the checks are over once the phases would start
    cfg = _config_file(tmp_path, [{"question": "What is two plus two, asked the teacher of the class?"}])
    with pytest.raises(Started):
        main(["run", "--config", str(cfg), "--output", str(tmp_path / "out"), "--quiet"])
    assert len(builds) == 1


def test_eval_paths_are_relative_to_the_config_file(tmp_path):
    from pilewright.pipeline.job.config import check_inputs_exist, load_config

    cfg = _config_file(tmp_path, [{"question": "What is two plus two, asked the teacher of the class?"}])
    loaded = load_config(str(cfg))
    assert loaded.resolved.stages.decontaminate.sets[0].paths == [str(tmp_path / "evals" / "gsm.jsonl")]
    check_inputs_exist(loaded.resolved)  # reads the file: no error


def test_a_failing_document_is_a_dead_letter_and_nothing_is_lost(tmp_path, monkeypatch):
    import pilewright.transforms.decontaminate.stage as stage_module

    original = stage_module.norm_words

    def failing(text, mask=True):
        if text.startswith("BOOM"):
            raise ValueError("cannot read")
        return original(text, mask)

    monkeypatch.setattr(stage_module, "norm_words", failing)
    docs = [doc("a", FILLER), doc("b", Q1), doc("boom", "BOOM " + FILLER)]
    with TestPipeline() as p:
        res = p | beam.Create(docs) | Decontaminate(cfg_for(tmp_path))
        assert_that(res.errors | beam.Map(lambda e: (e.doc_id, e.stage, e.error_type)),
                    equal_to([("boom", "decontaminate", "ValueError")]), label="errors")
        assert_conserved(res, len(docs))


# ---- units of a phased job: their sections merge into what one pass over every document writes

from hypothesis import given, settings, strategies as st  # noqa: E402

from pilewright.transforms.decontaminate import merge_stats  # noqa: E402
from pilewright.transforms.decontaminate.stage import FOUND_IDS, AuditFn  # noqa: E402

_SETS = ["gsm8k", "mmlu"]
_SET_ROWS = [("set", ("gsm8k", 7, 6, 1)), ("set", ("mmlu", 9, 9, 0))]
_found_row = st.tuples(st.sampled_from(_SETS), st.integers(0, 40).map(lambda i: f"doc{i:02d}"),
                       st.lists(st.integers(0, 8).map(lambda i: f"item{i}"), min_size=1, max_size=3, unique=True))


def _section(rows, carry):
    fn = AuditFn(_SETS, carry_found=carry)
    acc = fn.create_accumulator()
    for row in _SET_ROWS + [("found", name, doc_id, tuple(items)) for name, doc_id, items in rows]:
        acc = fn.add_input(acc, row)
    (_, payload), = fn.extract_output(acc)
    return payload


@settings(max_examples=60, deadline=None)
@given(st.lists(_found_row, max_size=30, unique_by=lambda r: r[1]), st.lists(st.integers(0, 3), max_size=30))
def test_units_sections_merge_to_the_whole_corpus_section(rows, cuts):
    # the documents dealt to up to 4 units; every unit counts its own and carries its found items
    units = [[] for _ in range(4)]
    for i, row in enumerate(rows):
        units[cuts[i] if i < len(cuts) else 0].append(row)
    payloads = [_section(u, carry=True) for u in units if u] or [_section([], carry=True)]
    merged = merge_stats("evaluation_sets", payloads)
    assert json.loads(merged) == json.loads(_section(rows, carry=False))
    assert FOUND_IDS not in merged
    assert merge_stats("some_other_section", payloads) is None
