"""Curation profiles: per-source stage settings, their resolution, their errors, and a pipeline in which two
sources with two profiles get their own decisions."""
from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pilewright.pipeline.job.config import ConfigError, canonical_json, parse_config
from pilewright.pipeline.job.manifest import source_profiles_section
from pilewright.pipeline.job.stages import curation_stages
from pilewright.schemas.errors import UserError
from pilewright.schemas.profiles import SHIPPED_PROFILES, deep_merge
from pilewright.schemas.records import Document
from pilewright.transforms.normalize.stage import normalize_text, rejoin_lines
from pilewright.schemas.stages.quality import NormalizeConfig

from tests.transforms.quality.test_quality_stage import prose


def cfg_with(profiles=None, **stages):
    data = {
        "sources": [
            {"name": "wires", "paths": ["x"], "format": "jsonl", "profile": "brief"},
            {"name": "web", "paths": ["x"], "format": "jsonl"},
        ],
        "stages": stages or {"quality": {"rules": ["gopher_quality"]}},
    }
    if profiles is not None:
        data["profiles"] = profiles
    return parse_config(data)


BRIEF = {"brief": {"quality": {"gopher_quality": {"min_doc_words": 5}}}}


def test_a_profile_overrides_only_what_it_names():
    cfg = cfg_with(BRIEF)
    q = cfg.source_stages()["wires"]["quality"]
    assert q.gopher_quality.min_doc_words == 5
    assert q.rules == ["gopher_quality"]  # inherited from stages:
    assert q.gopher_quality.min_alpha_words_ratio == 0.8
    assert "web" not in cfg.source_stages()


def test_a_user_profile_extends_a_shipped_one():
    cfg = cfg_with({"brief": {"extends": "newswire", "quality": {"gopher_quality": {"min_doc_words": 7}}}})
    q = cfg.source_stages()["wires"]["quality"]
    shipped = SHIPPED_PROFILES["newswire"]["quality"]["gopher_quality"]
    assert q.gopher_quality.min_doc_words == 7
    assert q.gopher_quality.min_alpha_words_ratio == shipped["min_alpha_words_ratio"]
    assert cfg.source_stages()["wires"]["normalize"].rejoin_lines == "wrapped"


def test_shipped_profiles_resolve_and_web_is_the_stages_block():
    for name in SHIPPED_PROFILES:
        cfg = parse_config({"sources": [{"name": "a", "paths": ["x"], "format": "jsonl", "profile": name}],
                            "stages": {"normalize": {}, "langid": {}, "quality": {}}})
        blocks = cfg.source_stages()["a"]
        assert set(blocks) == {"normalize", "langid", "quality"}
        if name == "web":
            assert blocks == {"normalize": cfg.stages.normalize, "langid": cfg.stages.langid, "quality": cfg.stages.quality}


def test_a_config_without_profiles_dumps_as_before():
    cfg = parse_config({"sources": [{"name": "a", "paths": ["x"], "format": "jsonl"}],
                        "stages": {"normalize": {}, "langid": {}}})
    text = canonical_json(cfg)
    for key in ('"profiles"', '"profile"', "rejoin_lines", '"over"', "prose_min_words"):
        assert key not in text
    assert source_profiles_section(cfg) is None


@pytest.mark.parametrize(
    "profiles, source_profile, key",
    [
        (None, "nope", "sources.0.profile"),
        ({"brief": {"qualty": {}}}, "brief", "profiles.brief.qualty"),
        ({"brief": {"dedup": {}}}, "brief", "profiles.brief.dedup"),
        ({"brief": {"pii": {}}}, "brief", "profiles.brief.pii"),
        ({"brief": {"quality": {"gopher_quality": {"min_doc_wordz": 3}}}}, "brief", "profiles.brief.quality.gopher_quality.min_doc_wordz"),
        ({"brief": {"langid": {"min_score": 3}}}, "brief", "profiles.brief.langid.min_score"),
        ({"brief": {"normalize": {"rejoin_lines": "sometimes"}}}, "brief", "profiles.brief.normalize.rejoin_lines"),
        ({"brief": {"extends": "nope"}}, "brief", "profiles.brief.extends"),
        ({"brief": {"extends": "other"}, "other": {"extends": "brief"}}, "brief", ".extends"),
    ],
)
def test_every_profile_error_is_one_line_naming_the_key(profiles, source_profile, key):
    data = {"sources": [{"name": "a", "paths": ["x"], "format": "jsonl", "profile": source_profile}]}
    if profiles is not None:
        data["profiles"] = profiles
    with pytest.raises(ConfigError) as e:
        parse_config(data)
    msg = str(e.value)
    assert isinstance(e.value, UserError)
    assert "\n" not in msg and key in msg, msg


def test_deep_merge_merges_mappings_and_replaces_the_rest():
    assert deep_merge({"a": {"x": 1, "y": 2}, "l": [1]}, {"a": {"y": 3}, "l": [2]}) == {"a": {"x": 1, "y": 3}, "l": [2]}


def test_rejoin_lines_joins_wrapped_lines_and_table_cells_idempotently():
    wrapped = "ACME CORP SAYS PROFIT UP\nAcme Corp said its profit rose\nin the quarter because sales grew.\nShr 10 cts vs 5 cts\nNet 1,000 vs 500"
    got = rejoin_lines(wrapped, "wrapped")
    assert got.splitlines() == ["ACME CORP SAYS PROFIT UP", "Acme Corp said its profit rose in the quarter because sales grew.",
                                "Shr 10 cts vs 5 cts", "Net 1,000 vs 500"]
    cells = "The table follows.\n\nRevenue\n\n$\n\n1,234\n\nCost\n\n$\n\n567\n\nThe table ends here."
    got = rejoin_lines(cells, "table_cells")
    assert got == "The table follows.\n\nRevenue $ 1,234 Cost $ 567\n\nThe table ends here."
    cfg = NormalizeConfig(rejoin_lines="table_cells")
    once = normalize_text(cells, cfg)
    assert normalize_text(once, cfg) == once
    assert rejoin_lines(cells, "none") == cells


def test_two_sources_with_two_profiles_get_their_own_decisions():
    # one short text (20 words) in each source: `wires` (profile brief: 5 words are enough) keeps it,
    # `web` (profile strict: 30 words at least) drops it; a long text passes both
    cfg = parse_config({
        "sources": [
            {"name": "wires", "paths": ["x"], "format": "jsonl", "profile": "brief"},
            {"name": "web", "paths": ["x"], "format": "jsonl", "profile": "strict"},
        ],
        "stages": {"normalize": {}, "quality": {"rules": ["gopher_quality"]}},
        "profiles": {
            "brief": {"quality": {"gopher_quality": {"min_doc_words": 5}}},
            "strict": {"quality": {"gopher_quality": {"min_doc_words": 30}}, "normalize": {"rejoin_lines": "wrapped"}},
        },
    })
    short = "The company said that the board will meet with the bankers and the lawyers to agree to the sale of the unit."
    long_ = prose(7)
    docs = [Document(id=f"{s}/{n}", text=t, source=s, domain="general")
            for s in ("wires", "web") for n, t in (("short", short), ("long", long_))]
    with TestPipeline() as p:
        pc = p | beam.Create(docs)
        rejected = []
        for name, transform in curation_stages(cfg):
            result = pc | f"S[{name}]" >> transform
            pc = result.main
            rejected.append(result.rejected)
        assert_that(pc | "KeptIds" >> beam.Map(lambda d: d.id), equal_to(["wires/short", "wires/long", "web/long"]), label="kept")
        dropped = tuple(rejected) | beam.Flatten() | "DroppedIds" >> beam.Map(lambda r: (r.id, r.reason))
        assert_that(dropped, equal_to([("web/short", "gopher_quality:too_few_words")]), label="dropped")


def test_a_stage_only_a_profile_enables_runs_only_on_that_source():
    # no `quality:` under stages: the web source is not judged; the wires source's profile adds the stage
    cfg = parse_config({
        "sources": [
            {"name": "wires", "paths": ["x"], "format": "jsonl", "profile": "strict"},
            {"name": "web", "paths": ["x"], "format": "jsonl"},
        ],
        "stages": {"normalize": {}},
        "profiles": {"strict": {"quality": {"rules": ["gopher_quality"]}}},
    })
    assert [n for n, _ in curation_stages(cfg)] == ["normalize", "quality"]
    docs = [Document(id=f"{s}/short", text="Too short.", source=s, domain="general") for s in ("wires", "web")]
    with TestPipeline() as p:
        pc = p | beam.Create(docs)
        for name, transform in curation_stages(cfg):
            pc = (pc | f"S[{name}]" >> transform).main
        assert_that(pc | beam.Map(lambda d: d.id), equal_to(["web/short"]))


def test_the_manifest_section_records_each_sources_profile_and_digest():
    cfg = cfg_with(BRIEF)
    section = source_profiles_section(cfg)
    assert section["sources"]["wires"]["profile"] == "brief"
    assert section["sources"]["web"]["profile"] is None
    assert section["sources"]["wires"]["digest"] != section["sources"]["web"]["digest"]
    assert section["sources"]["wires"]["blocks"]["quality"]["gopher_quality"]["min_doc_words"] == 5


def test_junk_signals_catch_word_salad_and_spam_but_not_prose():
    import random

    from pilewright.schemas.stages.quality import JunkConfig
    from pilewright.transforms.quality.junk import junk_reason, junk_signals

    text = ("The company said its revenue rose in the quarter. It expects growth to continue next year. "
            "Analysts asked about the margin. The chief executive said costs fell. Shares rose on the news.")
    cfg = JunkConfig()
    assert junk_reason(junk_signals(text, cfg), cfg) is None
    words = text.split()
    random.Random(3).shuffle(words)
    salad = " ".join(words) + " " + " ".join(words[::-1])
    assert junk_reason(junk_signals(salad, cfg), cfg) == "word_salad"
    spam = text + " Click here to order now! Act now, limited time offer! To be removed from our mailing list, click below."
    assert junk_reason(junk_signals(spam, cfg), cfg) in ("spam_phrases", "exclamations")


def test_langid_over_prose_lines_reads_the_prose_not_the_tables():
    from pilewright.schemas.stages.quality import LangIdConfig
    from pilewright.transforms.langid.stage import identify, prose_text
    from pilewright.transforms.fasttext_models import DEFAULT_LANGID_MODEL, load_fasttext, local_model_path

    prose_line = "The company reported that its net revenue increased because of higher sales in the period."
    table = "\n".join(f"{2020 + i} $ {1000 + 37 * i:,} {12.5 + i}% {3 * i} ({i})" for i in range(40))
    text = prose_line + "\n" + table
    assert prose_text(text, 6) == prose_line
    assert prose_text(table, 6) == table  # no prose line: the whole text is read
    model = load_fasttext(local_model_path(DEFAULT_LANGID_MODEL))
    lang, score = identify(model, text, LangIdConfig(over="prose_lines"))
    assert lang == "en" and score > 0.65
    assert identify(model, prose_line, LangIdConfig(over="prose_lines")) == identify(model, prose_line, LangIdConfig())


@pytest.mark.parametrize(
    "content, expected",
    [
        ("sources: [{name: a, paths: [x], format: jsonl, profile: nope}]\n", "sources.0.profile"),
        ("sources: [{name: a, paths: [x], format: jsonl, profile: p}]\nprofiles: {p: {dedup: {}}}\n", "profiles.p.dedup"),
        ("sources: [{name: a, paths: [x], format: jsonl, profile: p}]\nprofiles: {p: {quality: {c4: {min_sentences: 2}}}}\n",
         "profiles.p.quality.c4.min_sentences"),
    ],
)
def test_the_cli_prints_a_profile_error_on_one_line_and_exits_2(tmp_path, capsys, content, expected):
    from pilewright.pipeline.cli.main import main

    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(content)
    assert main(["run", "--config", str(cfg_file), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err


def test_the_manifest_model_accepts_the_source_profiles_section():
    from pilewright.schemas.manifest import Manifest

    section = source_profiles_section(cfg_with(BRIEF))
    doc = {
        "manifest_version": 1, "total_tokens": 0, "total_docs": 0, "num_shards": 0, "shards": [],
        "tokens_by_domain": {}, "tokens_by_source": {},
        "tokenizer": {"path": "t", "kind": "spm", "sha256": "0", "vocab_size": 8, "eos_id": 1, "bos_id": None,
                      "token_dtype": "uint16"},
        "seed": 1, "config_sha256": "0", "config": {}, "versions": {}, "source_profiles": section,
    }
    assert Manifest.model_validate(doc).dump()["source_profiles"] == section
