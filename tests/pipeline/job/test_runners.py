"""One job, many runners: the same small job gives byte-identical shards and manifest on every local
runner, and the Dataflow job builds and validates offline with pilewright packaged as a wheel."""
from __future__ import annotations

import gzip
import hashlib
import json
import zipfile
from pathlib import Path

import pytest
import yaml

from pilewright.pipeline.job.build import run_job
from pilewright.pipeline.job.config import load_config
from pilewright.pipeline.job.options import (
    DASK_REFUSED,
    PACKAGE_FS_PLUGIN,
    RunnerError,
    beam_args_with_defaults,
    check_remote_setup,
    pipeline_options,
    runner_kind,
)

from conftest import SAMPLE_DIR

REPO = Path(__file__).resolve().parents[3]
# a slice of every sample source keeps each run to a few seconds while every stage still sees real text
DOCS_PER_SOURCE = 6
CHARS_PER_DOC = 6000


# ---- option defaults and refusals (no pipeline run) ------------------------------------------------


def test_default_is_one_worker_process_per_core():
    args = beam_args_with_defaults([], cores=4)
    assert "--runner=DirectRunner" in args
    assert "--direct_running_mode=multi_processing" in args
    assert "--direct_num_workers=4" in args


def test_one_core_or_one_worker_runs_in_process():
    assert "--direct_running_mode=in_memory" in beam_args_with_defaults([], cores=1)
    # on 2 cores one process was measured faster than two (benchmarks/bench_runners.py)
    args = beam_args_with_defaults([], cores=2)
    assert "--direct_running_mode=in_memory" in args and not any("direct_num_workers" in a for a in args)
    args = beam_args_with_defaults(["--direct_num_workers=1"], cores=8)
    assert "--direct_running_mode=in_memory" in args
    assert not any(a == "--direct_num_workers=8" for a in args)


def test_user_settings_win():
    args = beam_args_with_defaults(["--direct_num_workers", "3"], cores=8)
    assert "--direct_running_mode=multi_processing" in args
    assert not any(a.startswith("--direct_num_workers=") for a in args)
    args = beam_args_with_defaults(["--direct_running_mode=in_memory"], cores=8)
    assert args == ["--direct_running_mode=in_memory", "--runner=DirectRunner"]
    args = beam_args_with_defaults(["--direct_running_mode=multi_processing"], cores=2)
    assert "--direct_num_workers=2" in args
    # the parsed options carry exactly what was asked for
    opts = pipeline_options(["--direct_num_workers=2"]).get_all_options()
    assert opts["direct_running_mode"] == "multi_processing" and opts["direct_num_workers"] == 2


@pytest.mark.parametrize(
    "runner", ["DaskRunner", "apache_beam.runners.dask.dask_runner.DaskRunner", "dask"]
)
def test_dask_runner_is_refused_with_the_reason(runner):
    with pytest.raises(RunnerError) as err:
        beam_args_with_defaults([f"--runner={runner}"])
    assert str(err.value) == DASK_REFUSED and "dask_repro.py" in str(err.value)


def test_runner_kind_normalizes_like_beam():
    assert runner_kind("DirectRunner") == runner_kind("direct") == "direct"
    assert runner_kind("apache_beam.runners.dataflow.dataflow_runner.DataflowRunner") == "dataflow"
    assert runner_kind("PortableRunner") == "portable"


def test_dataflow_without_pilewright_on_workers_is_refused_before_launch():
    with pytest.raises(RunnerError, match="--extra_package"):
        check_remote_setup(["--runner=DataflowRunner", "--project=p"])
    check_remote_setup(["--runner=DataflowRunner", "--extra_package=dist/pilewright-0.1.0-py3-none-any.whl"])
    check_remote_setup(["--runner=DataflowRunner", "--sdk_container_image=example/pilewright:1"])
    check_remote_setup(["--runner=PortableRunner"])


def test_cli_refuses_dask_in_one_line(capsys):
    from pilewright.pipeline.cli.main import main

    assert main(["run", "--runner=DaskRunner", "--output", "/nonexistent/never-written"]) == 2
    # refused before the run is announced: the error is the only line
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "DaskRunner is refused" in err[0]


# ---- the same job on three local runners -----------------------------------------------------------


def _slice_sample(dest: Path) -> Path:
    """A config over the first documents of every sample source (cut), written under ``dest``."""
    sample_cfg = yaml.safe_load((SAMPLE_DIR / "sample.yaml").read_text())
    sources = []
    for src in sample_cfg["sources"]:
        name = Path(src["paths"][0]).name
        with gzip.open(SAMPLE_DIR / name, "rt", encoding="utf-8") as f:
            records = [json.loads(line) for _, line in zip(range(DOCS_PER_SOURCE), f)]
        with gzip.GzipFile(dest / name, "wb", mtime=0) as f:
            for r in records:
                r["text"] = r["text"][:CHARS_PER_DOC]
                f.write((json.dumps(r) + "\n").encode())
        sources.append({**src, "paths": [name]})
    cfg = {
        "run": {"output": "out", "seed": 7},
        "sources": sources,
        # the sample's own flow: every curation stage and the mix, whose shuffles and side inputs are what
        # differs between runners
        "stages": sample_cfg["stages"],
        "tokenizer": {"train": {"vocab_size": 600, "sample_docs": 1000}},
        "mix": {**sample_cfg["mix"], "target_tokens": 40000},
        "shards": {"tokens_per_shard": 8000},
    }
    path = dest / "runners.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def small_config(tmp_path_factory):
    return load_config(str(_slice_sample(tmp_path_factory.mktemp("runners-input"))))


@pytest.fixture(scope="module")
def local_job_service():
    """Beam's Python job service (what Flink and Spark job servers stand in for), on a local port."""
    from apache_beam.runners.portability import local_job_service

    servicer = local_job_service.LocalJobServicer()
    port = servicer.start_grpc_server(0)
    yield f"localhost:{port}"
    servicer.stop()


RUNNERS = {
    "in_memory": lambda _endpoint: ["--runner=DirectRunner", "--direct_running_mode=in_memory"],
    "multi_processing": lambda _endpoint: [
        "--runner=DirectRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2",
    ],
    "portable_loopback": lambda endpoint: [
        "--runner=PortableRunner", f"--job_endpoint={endpoint}", "--environment_type=LOOPBACK",
    ],
}


@pytest.fixture(scope="module")
def runs(small_config, local_job_service, tmp_path_factory):
    """Each runner's output folder; each job runs once for the whole module."""
    done = {}

    def get(name: str) -> Path:
        if name not in done:
            out = tmp_path_factory.mktemp(f"out-{name}")
            run_job(small_config, RUNNERS[name](local_job_service), str(out))
            done[name] = out
        return done[name]

    return get


def _digests(out: Path) -> dict[str, str]:
    """sha256 of every file whose bytes the determinism contract covers: shards, manifest, tokenizer."""
    files = sorted(out.glob("tokens/*.arrow")) + [out / "manifest.json"] + sorted(out.glob("tokenizer/*"))
    return {str(f.relative_to(out)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def test_reference_run_has_several_shards(runs, small_config):
    manifest = json.loads((runs("in_memory") / "manifest.json").read_text())
    # several shards, so placement and finalize are exercised, not just one file
    assert manifest["num_shards"] >= 3
    n_input = 0
    for path in Path(small_config.path).parent.glob("*.jsonl.gz"):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            n_input += sum(1 for _ in f)
    audit = json.loads((runs("in_memory") / "audit" / "audit.json").read_text())
    stages = {s["name"]: s for s in audit["stages"]}
    assert list(stages) == ["ingest", "normalize", "langid", "quality", "dedup", "pii", "tokenize", "mix"]
    assert stages["ingest"]["in"] == n_input > 0
    assert stages["mix"]["kept"] > 0 and manifest["total_docs"] >= stages["mix"]["kept"]
    assert len(list((runs("in_memory") / "tokens").glob("*.arrow"))) == manifest["num_shards"]


@pytest.mark.parametrize("runner", ["multi_processing", "portable_loopback"])
def test_runner_gives_byte_identical_shards_and_manifest(runs, runner):
    reference = _digests(runs("in_memory"))
    assert _digests(runs(runner)) == reference


@pytest.mark.parametrize("runner", ["multi_processing", "portable_loopback"])
def test_runner_gives_the_same_audit_funnel(runs, runner):
    def funnel(out: Path):
        audit = json.loads((out / "audit" / "audit.json").read_text())
        return [(s["name"], s["in"], s["kept"], s["rejected"], s["errors"]) for s in audit["stages"]]

    assert funnel(runs(runner)) == funnel(runs("in_memory"))


# ---- Dataflow: build and validate the job offline ---------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    from pilewright.pipeline.job.remote import build_wheel

    if not (REPO / "pyproject.toml").is_file():
        pytest.skip("not a source checkout: no pyproject.toml to build a wheel from")
    return Path(build_wheel(str(tmp_path_factory.mktemp("dist")), str(REPO)))


def test_wheel_carries_every_module_and_package_data(wheel):
    from pilewright.pipeline.job.remote import missing_from_wheel

    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    assert missing_from_wheel(names, str(REPO)) == []
    assert "pilewright/pipeline/sample/sample.yaml" in names
    assert any(n.startswith("pilewright/pipeline/sample/") and n.endswith(".jsonl.gz") for n in names)


def test_dataflow_dry_run_builds_and_validates_the_sample_job(wheel, tmp_path, no_network):
    pytest.importorskip("apache_beam.io.gcp.gcsfilesystem", reason="apache-beam[gcp] is not installed")
    import apache_beam as beam

    from pilewright.pipeline.job.build import build_pipeline
    from pilewright.pipeline.job.phase_runner import dry_infos
    from pilewright.pipeline.job.phases import build_corpus_phase, build_unit, plan_phases
    from pilewright.pipeline.job.remote import for_remote_workers
    from pilewright.pipeline.job.units import Unit

    bucket = "gs://pilewright-dry-run"
    args = [
        "--runner=DataflowRunner", "--dry_run=True", "--project=pilewright-dry-run", "--region=us-central1",
        f"--temp_location={bucket}/tmp", "--max_num_workers=4", f"--extra_package={wheel}",
    ]
    loaded = for_remote_workers(load_config(None))
    # every phase is one job: curate over every file (globs expanded on the workers), then dedup over
    # all documents, pii per unit, then the final phase over what they wrote
    phases, _ = plan_phases(loaded.resolved)
    assert [ph.name for ph in phases] == ["curate", "decide1", "finish2"]
    earlier = []
    for phase in phases:
        job = beam.Pipeline(options=pipeline_options(args))
        if phase.kind == "corpus":
            build_corpus_phase(job, loaded.resolved, f"{bucket}/out", phase, earlier, "fp")
        else:
            build_unit(job, loaded.resolved, f"{bucket}/out", phase, Unit(0, (), whole=phase.first), "fp")
        assert str(job.run().state) == "DONE"
        earlier.append(dry_infos(phase))
    p = beam.Pipeline(options=pipeline_options(args))
    build_pipeline(p, loaded, f"{bucket}/out", earlier)
    result = p.run()
    assert str(result.state) == "DONE"
    job = result.job
    # Dataflow refuses a job graph over 10 MB; file lists are never inlined (globs expand on workers)
    assert len(job.proto_pipeline.SerializeToString()) < 2_000_000
    staged = [d.role_payload for env in job.proto_pipeline.components.environments.values() for d in env.dependencies]
    assert any(wheel.name.encode() in payload for payload in staged)
    options = job.options.get_all_options()
    assert options["max_num_workers"] == 4
    # workers import the pkg:// filesystem before running anything, and read the sample from the wheel
    assert PACKAGE_FS_PLUGIN in options["beam_plugins"]
    assert all(path.startswith("pkg://pilewright.pipeline.sample/") for s in loaded.resolved.sources for path in s.paths)


def test_remote_config_keeps_what_the_manifest_records():
    from pilewright.pipeline.job.remote import for_remote_workers, prepare_for_runner

    local = load_config(None)
    remote = for_remote_workers(local)
    assert remote.written == local.written and remote.sha256 == local.sha256
    assert [Path(p).name for s in local.resolved.sources for p in s.paths] == [
        p.rsplit("/", 1)[-1] for s in remote.resolved.sources for p in s.paths
    ]
    # local runners and LOOPBACK workers read this machine's files as they are
    assert prepare_for_runner(local, ["--runner=DirectRunner"], "/tmp/x") is local
    assert prepare_for_runner(local, ["--runner=PortableRunner", "--environment_type=LOOPBACK"], "/tmp/x") is local


def test_dataflow_refuses_local_inputs_and_outputs(tmp_path):
    from pilewright.pipeline.job.config import ConfigError
    from pilewright.pipeline.job.remote import prepare_for_runner

    cfg = _slice_sample(tmp_path)
    with pytest.raises(ConfigError, match=r"sources\[0\] \(wikipedia\)\.paths\[0\].*gs://"):
        prepare_for_runner(load_config(str(cfg)), ["--runner=DataflowRunner"], "gs://bucket/out")
    with pytest.raises(ConfigError, match="--output gs://"):
        prepare_for_runner(load_config(None), ["--runner=DataflowRunner"], "/tmp/out")


def test_package_filesystem_reads_the_sample_like_the_local_path():
    import apache_beam as beam
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from pilewright.pipeline.job import package_fs  # noqa: F401  (registers the pkg:// scheme)
    from pilewright.schemas.config import SourceConfig
    from pilewright.transforms.ingest.stage import ReadSources

    matched = FileSystems.match(["pkg://pilewright.pipeline.sample/*.jsonl.gz"])[0].metadata_list
    assert sorted(m.path.rsplit("/", 1)[-1] for m in matched) == sorted(p.name for p in SAMPLE_DIR.glob("*.jsonl.gz"))
    url = "pkg://pilewright.pipeline.sample/moby_dick.jsonl.gz"
    with FileSystems.open(url, compression_type="uncompressed") as f:
        assert f.read() == (SAMPLE_DIR / "moby_dick.jsonl.gz").read_bytes()
    with pytest.raises(Exception, match="read-only"):
        FileSystems.create("pkg://pilewright.pipeline.sample/new.txt")

    def ids(path):
        return [SourceConfig(name="moby", paths=[path], format="jsonl")]

    expected = []
    with gzip.open(SAMPLE_DIR / "moby_dick.jsonl.gz", "rt", encoding="utf-8") as f:
        expected = [f"moby/{json.loads(line)['id']}" for line in f]
    with TestPipeline() as p:
        local = p | "Local" >> ReadSources(ids(str(SAMPLE_DIR / "moby_dick.jsonl.gz")))
        packaged = p | "Packaged" >> ReadSources(ids(url))
        assert_that(local.main | "L" >> beam.Map(lambda d: d.id), equal_to(expected), label="local")
        assert_that(packaged.main | "P" >> beam.Map(lambda d: d.id), equal_to(expected), label="packaged")


def test_cli_dry_run_validates_offline_and_deletes_nothing(wheel, tmp_path, no_network, capsys):
    pytest.importorskip("apache_beam.io.gcp.gcsfilesystem", reason="apache-beam[gcp] is not installed")
    from pilewright.pipeline.cli.main import main

    bucket = "gs://pilewright-dry-run"
    code = main([
        "run", "--output", f"{bucket}/out", "--runner=DataflowRunner", "--dry_run=True",
        "--project=pilewright-dry-run", "--region=us-central1", f"--temp_location={bucket}/tmp",
        f"--extra_package={wheel}",
    ])
    assert code == 0
    assert "built and validated; nothing ran" in capsys.readouterr().out
