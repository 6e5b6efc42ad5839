"""Config validation: errors name the key and the fix; the CLI prints one line and exits 2."""
from __future__ import annotations

import textwrap

import pytest

from pilewright.pipeline.cli.main import main
from pilewright.pipeline.job.config import ConfigError, check_inputs_exist, load_config, parse_config
from pilewright.pipeline.job.options import RunnerError, beam_args_with_defaults

BASE = {"sources": [{"name": "a", "paths": ["x.jsonl"], "format": "jsonl"}]}


def test_defaults_follow_design():
    cfg = parse_config(BASE)
    assert cfg.run.seed == 1234
    assert cfg.tokenizer.train.vocab_size == 32000
    assert cfg.shards.tokens_per_shard == 100_000_000
    assert cfg.sources[0].domain == "general"


@pytest.mark.parametrize(
    "data,expected",
    [
        ({**BASE, "shards": {"num_shards": 0}}, "shards.num_shards"),
        ({**BASE, "shards": {"num_shards": 2, "tokens_per_shard": 5}}, "either `tokens_per_shard` or `num_shards`"),
        ({"sources": [{"name": "a", "paths": ["x"], "format": "csv"}]}, "sources.0.format"),
        ({"sources": [{"name": "a", "paths": ["x"], "format": "jsonl", "txt_field": "t"}]}, "sources.0.txt_field: unknown key"),
        ({**BASE, "tokenizer": {}}, "exactly one of"),
        ({**BASE, "stages": {"future_stage": {}}}, "stages.future_stage"),
        ({"sources": BASE["sources"] * 2}, "used twice"),
        ({**BASE, "runn": {}}, "runn: unknown key"),
    ],
)
def test_errors_name_the_key(data, expected):
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)").replace("`", ".")):
        parse_config(data)


def test_relative_paths_resolve_against_the_config_file(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.jsonl").write_text('{"text": "x"}\n')
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("sources: [{name: a, paths: ['data/*.jsonl'], format: jsonl}]\n")
    loaded = load_config(str(cfg_file))
    assert loaded.written.sources[0].paths == ["data/*.jsonl"]
    assert loaded.resolved.sources[0].paths == [str(tmp_path / "data" / "*.jsonl")]
    check_inputs_exist(loaded.resolved)


def test_missing_input_is_named(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("sources: [{name: web, paths: ['nothing/*.jsonl'], format: jsonl}]\n")
    with pytest.raises(ConfigError, match=r"sources\[0\] \(web\).paths\[0\]: no file matches"):
        check_inputs_exist(load_config(str(cfg_file)).resolved)


@pytest.mark.parametrize(
    "content,expected",
    [
        ("sources: [{name: a, paths: [x], format: jsonl}]\nshards: {num_shards: -1}\n", "shards.num_shards"),
        ("sources: [\n  - oops: [\n", "not valid YAML at line"),
        ("sources: [{name: a, paths: ['missing/*.jsonl'], format: jsonl}]\n", "no file matches"),
    ],
)
def test_cli_prints_one_line_and_exits_2(tmp_path, capsys, content, expected):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(textwrap.dedent(content))
    assert main(["run", "--config", str(cfg_file), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pilewright: error:") and expected in err[0]
    assert "Traceback" not in err[0]


def test_missing_config_file(capsys):
    assert main(["run", "--config", "/nonexistent/c.yaml"]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_runner_defaults_are_explicit_and_multi_threading_refused():
    args = beam_args_with_defaults([])
    assert "--runner=DirectRunner" in args
    assert any(a.startswith("--direct_running_mode=") for a in args)
    assert beam_args_with_defaults(["--runner=DataflowRunner"]) == ["--runner=DataflowRunner"]
    with pytest.raises(RunnerError, match="multi_threading"):
        beam_args_with_defaults(["--direct_running_mode=multi_threading"])
