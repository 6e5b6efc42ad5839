"""Nothing lost, nothing silent: a generated corpus of bad inputs and faults, run through the CLI.

For every case: the exit status, the one line on stderr, and (for runs that complete) that every record
read is kept, rejected or a dead letter with the expected reason. These are the promises README.md's
"What pilewright promises" section makes; runs are shared between assertions to keep the file fast.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from pilewright.pipeline.audit.verify import verify_run
from pilewright.pipeline.cli.main import main

from conftest import REPO, sample_texts

TEXTS = [r["text"] for r in sample_texts(40)]
A, B, C, D, E = TEXTS[:5]


def jl(records) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def cli(*argv: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``pilewright`` run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as e:  # argparse
            code = e.code
    return code, out.getvalue(), err.getvalue()


def problem_lines(err: str) -> list[str]:
    assert "Traceback" not in err, err
    return [l for l in err.splitlines() if l.startswith(("pilewright: error:", "pilewright: failed:"))]


def one_line(err: str) -> str:
    lines = problem_lines(err)
    assert len(lines) == 1, err
    return lines[0]


def audit_of(out: Path) -> dict:
    return json.loads((out / "audit" / "audit.json").read_text())


def dead_letters(out: Path) -> list[dict]:
    return [json.loads(l) for f in sorted((out / "dead_letter").glob("*.jsonl")) for l in f.read_text().splitlines()]


def assert_conserved(audit: dict) -> None:
    for st in audit["stages"]:
        for source, e in st["by_source"].items():
            assert e["in"] == e["kept"] + e["rejected"] + e["errors"], (st["name"], source, e)


def write_config(path: Path, sources: str, extra: str = "", tokenizer: str = "{train: {vocab_size: 600}}") -> Path:
    path.write_text(f"sources:\n{sources}\ntokenizer: {tokenizer}\nshards: {{num_shards: 1}}\n{extra}")
    return path


# ---------------------------------------------------------------- the main bad-input run (completes, exit 0)

@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixed")
    data = root / "data"
    data.mkdir()
    good = [{"id": f"g{i}", "text": t} for i, t in enumerate(TEXTS[5:25])]
    (data / "good.jsonl").write_bytes(jl(good))
    (data / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + jl([{"id": "bom0", "text": TEXTS[25]}, {"id": "bom1", "text": TEXTS[26]}]))
    (data / "plain.jsonl.gz").write_bytes(jl([{"id": "plain0", "text": TEXTS[27]}]))  # named .gz, plain text
    (data / "packed.jsonl").write_bytes(zstandard.ZstdCompressor().compress(jl([{"id": "zst0", "text": TEXTS[28]}])))
    # records that do not compress away, so the damage lies several decoder feeds into the file
    noise = [hashlib.blake2b(str(i).encode()).hexdigest() for i in range(200)]
    many = jl([{"id": f"c{i}", "text": f"{TEXTS[29 + i % 5][:200]} " + " ".join(noise[i:i + 6])} for i in range(200)])
    blob = bytearray(gzip.compress(many, mtime=0))
    blob[len(blob) * 2 // 3: len(blob) * 2 // 3 + 16] = b"\x00" * 16  # damage two thirds in
    (data / "corrupt.jsonl.gz").write_bytes(bytes(blob))
    (data / "repair.jsonl").write_bytes(
        b'{"id": "r0", "text": "' + TEXTS[34][:300].encode().replace(b'"', b"'").replace(b"\\", b"")
        .replace(b"\n", b" ") + b' caf\xe9"}\n'
        b'{"id": "r1", "text": "lone \\ud800 surrogate in a sentence of text"}\n'
    )
    # duplicate ids within one file and across files: same id + same text, a unique text sharing its id with
    # an exact-duplicate group, same id with different texts
    (data / "dup_a.jsonl").write_bytes(jl([
        {"id": "x", "text": A}, {"id": "x", "text": A}, {"id": "y", "text": B}, {"id": "z", "text": B},
        {"id": "y", "text": C}, {"id": "w", "text": D},
    ]))
    (data / "dup_b.jsonl").write_bytes(jl([{"id": "w", "text": E}]))
    (data / "broken.jsonl").write_bytes(
        b'{"id": "k0", "text": unquoted}\n{"id": "k1"}\n{"id": "k2", "text": "   "}\n' + jl([{"id": "k3", "text": TEXTS[35]}])
    )
    # the corrupt file's lost rest now counts in the dead-letter share (issue 25): this run of every bad
    # input at once allows it, so it completes and every record can be accounted for
    cfg = write_config(root / "c.yaml", "  - {name: web, paths: ['data/*'], format: jsonl}",
                       "stages: {dedup: {}}\npolicy: {max_dead_letter_share: 0.25, max_dead_letter_share_total: 0.25}\n")
    out = root / "out"
    code, stdout, err = cli("run", "--config", str(cfg), "--output", str(out))
    return {"root": root, "out": out, "code": code, "err": err, "audit": audit_of(out)}


def test_bad_inputs_complete_with_every_record_accounted_for(mixed):
    assert mixed["code"] == 0, mixed["err"]
    assert problem_lines(mixed["err"]) == []
    audit = mixed["audit"]
    assert_conserved(audit)
    ingest = audit["stages"][0]
    dead = {(d["path"].rsplit("/", 1)[-1], d["error_type"]) for d in dead_letters(mixed["out"])}
    assert dead == {("corrupt.jsonl.gz", "corrupt_file"), ("broken.jsonl", "invalid_json"),
                    ("broken.jsonl", "missing_text_field")}
    assert ingest["reasons"] == {"empty_text": 1}
    # every record of the intact files is read: 20 good, 2 BOM, 1 plain .gz, 1 zstd, 2 repaired, 7 dup, 4 broken
    corrupt = next(d for d in dead_letters(mixed["out"]) if d["error_type"] == "corrupt_file")
    kept_before_damage = corrupt["offset"] - 1
    assert 50 < kept_before_damage < 200 and "before compressed byte" in corrupt["error"]
    assert ingest["in"] == 20 + 2 + 1 + 1 + 2 + 7 + 4 + kept_before_damage + 1


def test_bom_misnamed_compression_and_repaired_text_keep_their_records(mixed):
    import pyarrow.parquet as pq

    ids = set(pq.read_table(mixed["out"] / "documents").column("id").to_pylist())
    assert {"web/bom0", "web/bom1", "web/plain0", "web/zst0", "web/r0", "web/r1"} <= ids
    repaired = mixed["audit"]["stages"][0]["stats"]["repaired_text"]
    assert repaired["records"] == 2 and repaired["characters"] == 2
    texts = dict(zip(*pq.read_table(mixed["out"] / "documents", columns=["id", "text"]).to_pydict().values()))
    assert texts["web/r0"].endswith("caf\ufffd") and "lone \ufffd surrogate" in texts["web/r1"]


def test_duplicate_ids_keep_every_distinct_text_and_are_reported(mixed):
    docs = pq.read_table(mixed["out"] / "documents", columns=["id", "text"]).to_pydict()
    assert len(set(docs["id"])) == len(docs["id"])
    kept = set(docs["text"])
    assert {A, B, C, D, E} <= kept  # the reported bug: C and one of D/E were lost to another record's id
    assert docs["text"].count(A) == 1 and docs["text"].count(B) == 1  # exact duplicates still go
    dups = mixed["audit"]["stages"][0]["stats"]["duplicate_ids"]
    assert dups["ids"] == 3 and dups["records"] == 6
    assert dups["by_source"]["web"]["sample_ids"] == ["web/w", "web/x", "web/y"]
    assert "web/w#dup_a.jsonl:6" in docs["id"] and "web/w#dup_b.jsonl:1" in docs["id"]
    assert any("document ids are shared" in l and "pilewright: warning:" in l for l in mixed["err"].splitlines())
    assert verify_run(str(mixed["out"])).ok
    code, summary, _ = cli("audit", str(mixed["out"]))
    assert code == 0
    assert "INPUT       duplicate ids made unique: ids 3 \u00b7 records 6 (e.g. web/w, web/x, web/y)" in summary
    assert "INPUT       text repaired: records 2 \u00b7 characters -> U+FFFD 2" in summary


def test_verify_catches_a_duplicated_doc_id(mixed, tmp_path):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(mixed["out"], out)
    part = next((out / "documents").glob("*.parquet"))
    table = pq.read_table(part)
    ids = table.column("id").to_pylist()
    ids[1] = ids[0]
    pq.write_table(table.set_column(0, "id", pa.array(ids)), part)
    assert any("is held by more than one document" in p for p in verify_run(str(out)).problems)


def test_duplicate_ids_policy_error_is_one_line_exit_2(mixed):
    root = mixed["root"]
    cfg = write_config(root / "strict.yaml", "  - {name: web, paths: ['data/dup_*.jsonl'], format: jsonl}",
                       "policy: {duplicate_ids: error}\n", tokenizer=f"{{model: {mixed['out']}/tokenizer/tokenizer.model}}")
    code, _, err = cli("run", "--config", str(cfg), "--output", str(root / "strict"), "--quiet")
    assert code == 2
    assert "duplicate document id 'web/" in one_line(err)


# ------------------------------------------------------------- runs that complete but break the policy: exit 3

def _model(mixed) -> str:
    return f"{{model: {mixed['out']}/tokenizer/tokenizer.model}}"


def test_a_source_of_only_empty_files_fails_the_run_after_the_audit(mixed, tmp_path):
    (tmp_path / "empty").mkdir()
    for name in ("a.jsonl", "b.jsonl.gz"):
        (tmp_path / "empty" / name).write_bytes(b"")
    (tmp_path / "good.jsonl").write_bytes(jl([{"id": i, "text": t} for i, t in enumerate(TEXTS[:10])]))
    cfg = write_config(tmp_path / "c.yaml", "  - {name: good, paths: [good.jsonl], format: jsonl}\n"
                       "  - {name: hollow, paths: ['empty/*'], format: jsonl}", tokenizer=_model(mixed))
    code, _, err = cli("run", "--config", str(cfg), "--output", str(tmp_path / "out"), "--quiet")
    assert code == 3
    line = one_line(err)
    assert "source 'hollow' yielded 0 documents" in line and "ingest:empty_file (2)" in line
    audit = audit_of(tmp_path / "out")  # written before the run was failed
    assert_conserved(audit)
    assert audit["stages"][0]["by_source"]["hollow"]["error_types"] == {"empty_file": 2}


def test_too_many_dead_letters_in_one_source_fail_the_run(mixed, tmp_path):
    lines = [json.dumps({"id": i, "text": t}).encode() for i, t in enumerate(TEXTS[:6])] + [b"{not json"] * 4
    (tmp_path / "noisy.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    cfg = write_config(tmp_path / "c.yaml", "  - {name: noisy, paths: [noisy.jsonl], format: jsonl}",
                       tokenizer=_model(mixed))
    code, _, err = cli("run", "--config", str(cfg), "--output", str(tmp_path / "out"), "--quiet")
    assert code == 3
    line = one_line(err)
    assert "source 'noisy': 4 of 10 records (40.0%) are dead letters" in line and "ingest:invalid_json (4)" in line
    audit = audit_of(tmp_path / "out")
    assert_conserved(audit)
    assert audit["stages"][0]["in"] == 10
    # the same corpus passes with a limit that allows it
    cfg2 = write_config(tmp_path / "c2.yaml", "  - {name: noisy, paths: [noisy.jsonl], format: jsonl}",
                        "policy: {max_dead_letter_share: 0.5, max_dead_letter_share_total: 0.5}\n",
                        tokenizer=_model(mixed))
    code, _, err = cli("run", "--config", str(cfg2), "--output", str(tmp_path / "out2"), "--quiet")
    assert code == 0, err


def test_an_empty_output_fails_the_run(mixed, tmp_path):
    (tmp_path / "d.jsonl").write_bytes(jl([{"id": i, "text": t} for i, t in enumerate(TEXTS[:8])]))
    cfg = write_config(tmp_path / "c.yaml", "  - {name: en, paths: [d.jsonl], format: jsonl}",
                       "stages: {langid: {languages: [de]}}\n", tokenizer=_model(mixed))
    code, _, err = cli("run", "--config", str(cfg), "--output", str(tmp_path / "out"), "--quiet")
    assert code == 3
    line = one_line(err)
    assert "the run wrote no tokens" in line and "langid:not_in_languages (8)" in line
    assert_conserved(audit_of(tmp_path / "out"))


# ------------------------------------------------------------------ errors the user fixes: one line, exit 2

@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("small")
    (root / "d.jsonl").write_bytes(jl([{"id": i, "body": t} for i, t in enumerate(TEXTS[:4])]))
    pq.write_table(pa.table({"id": ["p1"], "content": ["some text"]}), root / "p.parquet")
    (root / "folder").mkdir()
    (root / "folder" / "x.jsonl").write_bytes(jl([{"id": 1, "text": "a"}]))
    return root


@pytest.mark.parametrize("source, extra, expected", [
    ("{name: s, paths: [d.jsonl], format: jsonl}", "stages: {langid: {languages: [english]}}\n",
     "stages.langid.languages[0]: 'english' is not a language of the model"),
    ("{name: s, paths: [d.jsonl], format: jsonl}", "",
     "sources[0] (s).text_field: 'text' is not in the first record of"),
    ("{name: s, paths: [p.parquet], format: parquet}", "",
     "sources[0] (s).text_field: 'text' is not in the first record of"),
    ("{name: s, paths: [folder], format: jsonl}", "", "sources[0] (s).paths[0]: "),
])
def test_config_mistakes_found_before_the_run(small, tmp_path, source, extra, expected):
    cfg = write_config(small / f"{tmp_path.name}.yaml", f"  - {source}", extra)
    out = tmp_path / "out"
    code, _, err = cli("run", "--config", str(cfg), "--output", str(out))
    assert code == 2 and expected in one_line(err)
    assert not out.exists()


def test_output_path_that_is_a_file_is_one_line(small, tmp_path):
    (small / "good.jsonl").write_bytes(jl([{"id": 1, "text": TEXTS[0]}]))
    cfg = write_config(tmp_path / "c.yaml", "  - {name: s, paths: [" + str(small / "good.jsonl") + "], format: jsonl}")
    (tmp_path / "afile").write_text("x")
    code, _, err = cli("run", "--config", str(cfg), "--output", str(tmp_path / "afile"))
    assert code == 2 and "is a file, not a folder" in one_line(err)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_output_that_is_not_writable_is_one_line(small, tmp_path):
    cfg = write_config(tmp_path / "c.yaml", "  - {name: s, paths: [" + str(small / "d.jsonl") + "], format: jsonl}")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    code, _, err = cli("run", "--config", str(cfg), "--output", str(locked / "out"))
    assert code == 2 and "is not writable" in one_line(err)


def test_a_mistyped_option_is_refused_before_anything_is_deleted(mixed, tmp_path):
    out = tmp_path / "last_run"
    (out / "tokens").mkdir(parents=True)
    (out / "manifest.json").write_text("{}")
    cfg = write_config(tmp_path / "c.yaml", "  - {name: web, paths: ['" + str(mixed["root"] / "data" / "good.jsonl") +
                       "'], format: jsonl}", f"run: {{output: {out}}}\n")
    code, _, err = cli("run", "--config", str(cfg), "--ouput", str(tmp_path / "elsewhere"), "--quiet")
    assert code == 2
    assert "unknown option '--ouput'; did you mean --output?" in one_line(err)
    assert (out / "manifest.json").read_text() == "{}" and (out / "tokens").is_dir()


def test_disk_full_is_one_line_and_leaves_no_temporary_files(mixed, tmp_path, monkeypatch):
    from pilewright.transforms.shard import stage as shard_stage

    real = shard_stage.FileSystems

    class _Full:
        def __init__(self, f):
            self._f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._f.close()

        def write(self, data):
            self._f.write(data[:10])
            raise OSError(28, "No space left on device")

    class FullFileSystems:
        def __getattr__(self, name):
            return getattr(real, name)

        @staticmethod
        def create(path, *a, **k):
            return _Full(real.create(path, *a, **k))

    monkeypatch.setattr(shard_stage, "FileSystems", FullFileSystems())
    cfg = write_config(tmp_path / "c.yaml", "  - {name: web, paths: ['" + str(mixed["root"] / "data" / "good.jsonl") +
                       "'], format: jsonl}", tokenizer=_model(mixed))
    out = tmp_path / "out"
    code, _, err = cli("run", "--config", str(cfg), "--output", str(out), "--quiet")
    assert code == 2
    assert "the disk is full" in one_line(err)
    left = [p for p in out.rglob("*") if ".tmp" in p.parts or any(x.startswith(("beam-temp", ".temp")) for x in p.parts)]
    assert left == []


def test_small_corpus_tokenizer_error_prints_no_traceback(tmp_path):
    (tmp_path / "d.jsonl").write_bytes(jl([{"id": 1, "text": "hello world"}]))
    cfg = write_config(tmp_path / "c.yaml", "  - {name: s, paths: [d.jsonl], format: jsonl}")
    proc = subprocess.run([sys.executable, "-m", "pilewright.pipeline.cli.main", "run", "--config", str(cfg),
                           "--output", str(tmp_path / "out"), "--quiet"],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [one_line(proc.stderr)]
    assert "tokenizer.train.vocab_size=600 is too large" in proc.stderr


def test_the_readme_promises_what_these_tests_check():
    from pilewright.pipeline.job.policy import EXIT_POLICY
    from pilewright.schemas.config import PolicyConfig

    readme = (REPO / "README.md").read_text()
    section = readme.split("### What pilewright promises", 1)[1].split("\n## ", 1)[0]
    assert "tests/pipeline/job/test_reliability.py" in section and "tests/pipeline/job/test_resume.py" in section
    assert "`pilewright run --resume`" in section and "byte-identical" in section
    assert f"exits with status {EXIT_POLICY}" in section and "2: an error you can fix" in section
    for key, value in PolicyConfig().model_dump().items():
        shown = str(value).lower() if isinstance(value, bool) else str(value)
        assert f"`{key}`" in section and shown in section, key


# ---- the id rule itself (pure) ------------------------------------------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402

from pilewright.transforms.ingest.ids import Place, unique_ids  # noqa: E402

_places = st.lists(
    st.builds(Place, st.sampled_from(["a", "b"]), st.sampled_from(["/d1/x.jsonl", "/d2/x.jsonl", "/d1/y.jsonl"]),
              st.just(""), st.integers(1, 4)),
    min_size=0, max_size=8, unique_by=lambda p: (p.path, p.record),
).map(lambda ps: [p._replace(rel_path=p.path.rsplit("/", 1)[1]) for p in ps])


@settings(max_examples=200, deadline=None, derandomize=True)
@given(_places, st.randoms(use_true_random=False))
def test_shared_ids_become_unique_whatever_the_order(places, rnd):
    renamed = unique_ids("doc-1", places)
    if len(places) < 2:
        assert renamed == []  # an id nobody else has is never touched
        return
    new = [n for _p, n in renamed]
    assert len(set(new)) == len(places) and all(n.startswith("doc-1#") for n in new)
    shuffled = list(places)
    rnd.shuffle(shuffled)
    assert unique_ids("doc-1", shuffled) == renamed  # order-independent: same ids on every runner


# ---------------------------------------------------- issue 25: the table of what users met, one case a row

def tree(path: Path) -> dict[str, str]:
    """Every file under ``path`` (relative path -> sha256): the user's files, to show none changed."""
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


def users_folder(root: Path) -> Path:
    folder = root / "mine"
    for name in ("documents", "audit", "tokens"):
        (folder / name).mkdir(parents=True)
        (folder / name / "notes.txt").write_text(f"the user's own {name}\n")
    (folder / "manifest.json").write_text('{"mine": true}\n')
    return folder


def good_config(mixed, path: Path, extra: str = "") -> Path:
    return write_config(path, "  - {name: web, paths: ['" + str(mixed["root"] / "data" / "good.jsonl") +
                        "'], format: jsonl}", extra, tokenizer=_model(mixed))


def test_row_dependency_ranges_are_tested_at_both_ends_in_ci():
    """Row 1: `pip install -e .` picked apache-beam 2.78 and the job died at graph construction. CI now
    installs without the lock at the newest and at the lowest declared versions and runs the sample job."""
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in ci and ".ci/deps newest" in ci and ".ci/deps lowest" in ci
    deps = (REPO / ".ci" / "deps").read_text()
    assert "pilewright\" run" in deps and "audit \"$work/out\" --verify" in deps and "floors.py" in deps
    proc = subprocess.run([sys.executable, str(REPO / ".ci" / "floors.py"), "test"], capture_output=True, text=True,
                          check=True)
    pins = dict(line.split("==") for line in proc.stdout.split())
    assert pins["apache-beam"] == "2.77" and pins["pyarrow"] and pins["datasets"]
    readme = (REPO / "README.md").read_text()
    assert "apache-beam 2.77" in readme and "2.78" in readme  # the README says which versions are tested


def test_row_connected_components_declare_their_main_output_type():
    """Row 1's cause: from apache-beam 2.78 a DoFn that also yields TaggedOutput is inferred to output a
    Union with TaggedOutput, and FinalLabel's type check failed. The declared type holds on any version."""
    import apache_beam as beam

    from pilewright.transforms.dedup.components import ConnectedComponents

    p = beam.Pipeline()
    edges = p | beam.Create([(("a", "1"), ("a", "2"))])
    labels, _summary = edges | ConnectedComponents(2, 10)
    residue = labels.producer.inputs[0]
    assert residue.element_type == beam.typehints.Tuple[beam.typehints.Any, beam.typehints.Any]


def test_row_a_folder_of_the_users_own_files_is_refused_and_left_as_it_was(mixed, tmp_path):
    """Row 2: their documents/, audit/, tokens/ were deleted and manifest.json overwritten, exit 0."""
    folder = users_folder(tmp_path)
    before = tree(folder)
    code, _, err = cli("run", "--config", str(good_config(mixed, tmp_path / "c.yaml")), "--output", str(folder))
    assert code == 2
    line = one_line(err)
    assert f"output {folder}: the folder holds files" in line and "--overwrite" in line
    assert tree(folder) == before


@pytest.mark.parametrize("where", ["root", "home", "cwd"])
def test_row_root_home_and_working_folder_are_refused(mixed, tmp_path, monkeypatch, where):
    """Row 2: `output: /` was accepted and wrote into /."""
    home, work = tmp_path / "home", tmp_path / "work"
    for folder in (home, work):
        folder.mkdir()
        (folder / "keep.txt").write_text("x")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    target = {"root": "/", "home": str(home), "cwd": "."}[where]
    cfg = good_config(mixed, tmp_path / "c.yaml", f"run: {{output: '{target}'}}\n")
    root_before = sorted(os.listdir("/"))
    code, _, err = cli("run", "--config", str(cfg))
    assert code == 2
    expected = {"root": "the filesystem root cannot be an output folder", "home": "this is the home folder",
                "cwd": "this is the working folder itself"}[where]
    assert expected in one_line(err)
    for folder in (home, work):
        assert tree(folder) == {"keep.txt": hashlib.sha256(b"x").hexdigest()}
    assert sorted(os.listdir("/")) == root_before


def test_row_overwrite_uses_the_folder_and_keeps_what_is_not_pilewrights(mixed, tmp_path):
    folder = users_folder(tmp_path)
    (folder / "elsewhere.txt").write_text("not pilewright's\n")
    code, _, err = cli("run", "--config", str(good_config(mixed, tmp_path / "c.yaml")), "--output", str(folder),
                       "--overwrite", "--quiet")
    assert code == 0, err
    assert (folder / "elsewhere.txt").read_text() == "not pilewright's\n"
    assert (folder / ".pilewright").is_file() and not (folder / ".pilewright.lock").exists()
    assert verify_run(str(folder)).ok
    # the marker makes it pilewright's: the next run needs no --overwrite
    code, _, err = cli("run", "--config", str(good_config(mixed, tmp_path / "c.yaml")), "--output", str(folder),
                       "--quiet")
    assert code == 0, err


def test_row_a_second_run_on_a_locked_output_is_refused_naming_the_first(mixed, tmp_path):
    """Row 3: two runs with different configs on one output both exited 0 and mixed their shards."""
    from pilewright.pipeline.job.output_guard import claim_output

    out = tmp_path / "out"
    with claim_output(str(out)) as first:
        info = json.loads((out / ".pilewright.lock").read_text())
        before = tree(out)
        code, _, err = cli("run", "--config", str(good_config(mixed, tmp_path / "c.yaml")), "--output", str(out))
        assert code == 2
        line = one_line(err)
        assert f"is in use by another pilewright run (pid {os.getpid()}, started {info['started']})" in line
        assert tree(out) == before
    assert first.fd is None and not (out / ".pilewright.lock").exists()


def test_row_a_stale_lock_from_a_killed_run_is_taken_over(mixed, tmp_path):
    out = tmp_path / "out"
    # a run killed with -9 leaves its lock file, no longer locked by anyone
    proc = subprocess.run([sys.executable, "-c", "import os, sys\n"
                           "from pilewright.pipeline.job.output_guard import claim_output\n"
                           f"claim_output({str(out)!r})\nos._exit(9)"], cwd=REPO)
    assert proc.returncode == 9 and (out / ".pilewright.lock").exists()
    code, _, err = cli("run", "--config", str(good_config(mixed, tmp_path / "c.yaml")), "--output", str(out), "--quiet")
    assert code == 0, err
    assert not (out / ".pilewright.lock").exists()


def test_row_verify_fails_on_a_shard_the_manifest_does_not_list(mixed, tmp_path):
    """Row 3: `audit --verify` did not notice a shard of another run under tokens/."""
    import shutil

    out = tmp_path / "out"
    shutil.copytree(mixed["out"], out)
    assert verify_run(str(out)).ok
    (out / "tokens" / "part-00007-of-00009.arrow").write_bytes((out / "tokens" / "part-00000-of-00001.arrow").read_bytes())
    code, stdout, err = cli("audit", str(out), "--verify")
    assert code != 0
    assert "tokens/part-00007-of-00009.arrow: under tokens/ but not listed in manifest.json" in stdout + err


@pytest.mark.parametrize("yaml_text, expected", [
    ("run: {seed: 1}\nrun: {seed: 2}\n", "the key 'run' is written twice (lines 6 and 7)"),
    ("stages: {dedup: {}}\nstages: {pii: {}}\n", "the key 'stages' is written twice (lines 6 and 7)"),
    ("shards: {num_shards: true}\n", None),
    ("stages: {langid: {languages: [en, no]}}\n", "stages.langid.languages.1: YAML read an unquoted no, off or n"),
])
def test_row_config_mistakes_that_were_silent_are_one_line(mixed, tmp_path, yaml_text, expected):
    """Rows 6-8: a duplicate key (the last won), `num_shards: true` (one shard), a language code read as a
    boolean."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sources:\n  - {name: web, paths: ['" + str(mixed["root"] / "data" / "good.jsonl") + "'], "
                   "format: jsonl}\n" + f"tokenizer: {_model(mixed)}\n" + "policy: {min_source_documents: 1}\n"
                   + "# comment\n" + yaml_text)
    before = tree(tmp_path)
    code, _, err = cli("run", "--config", str(cfg), "--output", str(tmp_path / "out"))
    assert code == 2
    line = one_line(err)
    assert (expected or "shards.num_shards: a boolean where a number is expected") in line
    assert tree(tmp_path) == before


def test_row_an_empty_stage_block_runs_the_stage_with_its_defaults(mixed, tmp_path):
    """Row 7: `dedup:` left empty (YAML null) silently turned the stage off."""
    from pilewright.pipeline.job.config import load_config
    from pilewright.schemas.stages.dedup import DedupConfig

    cfg = good_config(mixed, tmp_path / "c.yaml", "stages:\n  dedup:\n")
    assert load_config(str(cfg)).resolved.stages.dedup == DedupConfig()


def test_row_ctrl_c_stops_the_run_removes_temporary_files_and_exits_130(tmp_path):
    """Row 9: Ctrl-C printed a 174-line traceback and exited 1."""
    import signal
    import time

    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "pilewright.pipeline.cli.main", "run", "--output", str(out),
                             "--quiet"], cwd=REPO, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / ".pilewright.lock").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    time.sleep(3)  # well inside the job
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "pilewright: interrupted: the run stopped and its temporary files were removed" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (out / ".pilewright.lock").exists() and not (out / ".work").exists()
    assert not [p for p in out.rglob("*") if ".tmp" in p.parts or p.name.startswith(("beam-temp", ".temp"))]


def test_row_an_output_under_proc_is_one_line(mixed, tmp_path):
    """Row 10: a 146-line traceback."""
    code, _, err = cli("run", "--config", str(good_config(mixed, tmp_path / "c.yaml")), "--output", "/proc/pilewright-out")
    assert code == 2 and "output /proc/pilewright-out: " in one_line(err)


def test_row_a_full_disk_while_the_audit_is_written_leaves_no_truncated_file(mixed, tmp_path, monkeypatch):
    """Row 11: a truncated audit.json stayed."""
    from pilewright.pipeline.audit import atomic

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic, "_sync", full)
    out = tmp_path / "out"
    code, _, err = cli("run", "--config", str(good_config(mixed, tmp_path / "c.yaml")), "--output", str(out), "--quiet")
    assert code == 2 and "the disk is full" in one_line(err)
    assert not (out / "audit" / "audit.json").exists() and not (out / "manifest.json").exists()
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_row_audit_verify_in_a_loop_never_aborts(mixed):
    """Row 12: `audit --verify` died once in 22 runs with SIGABRT. The cause (from a core dump): Parquet read
    from a Python file object with pre-buffering left futures holding Python buffers on Arrow's I/O threads;
    released there during interpreter exit, they aborted the process (``verify.read_parquet_columns``).
    Kept as a loop, bounded to a few seconds, each run in its own process with a normal interpreter exit
    and faulthandler on, so a native crash prints where it happened."""
    import time

    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    runs, deadline = 0, time.monotonic() + 8
    while runs < 3 or (time.monotonic() < deadline and runs < 12):
        proc = subprocess.run([sys.executable, "-m", "pilewright.pipeline.cli.main", "audit", str(mixed["out"]),
                               "--verify"], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
        assert proc.returncode == 0, (runs, proc.returncode, proc.stderr[-3000:])
        runs += 1


def test_version_is_printed():
    from importlib import metadata

    code, out, _ = cli("--version")
    assert code == 0 and out.strip() == f"pilewright {metadata.version('pilewright')}"


@pytest.fixture(scope="module")
def latin(tmp_path_factory):
    root = tmp_path_factory.mktemp("latin")
    texts = [f"{t[:200].encode('ascii', 'ignore').decode()} Le café crème à la française, déjà vu, où l'été "
             f"s'achève. Größe, señor, ça." for t in TEXTS[:10]]
    (root / "fr.jsonl").write_bytes(b"".join(json.dumps({"id": i, "text": t}, ensure_ascii=False).encode("cp1252")
                                            + b"\n" for i, t in enumerate(texts)))
    return root, texts


@pytest.mark.parametrize("encoding", [None, "cp1252", "auto"])
def test_row_a_cp1252_jsonl_fails_naming_the_file_or_reads_with_its_encoding(mixed, latin, tmp_path, encoding):
    """Row 5: every accent became U+FFFD (752 characters), quality then dropped 8 of 10 records, exit 0."""
    root, texts = latin
    key = f", encoding: {encoding}" if encoding else ""
    cfg = write_config(tmp_path / "c.yaml", f"  - {{name: fr, paths: ['{root / 'fr.jsonl'}'], format: jsonl{key}}}",
                       tokenizer=_model(mixed))
    before = tree(root)
    out = tmp_path / "out"
    code, _, err = cli("run", "--config", str(cfg), "--output", str(out), "--quiet")
    assert tree(root) == before
    if encoding is None:
        assert code == 2
        line = one_line(err)
        assert f"source 'fr': {root / 'fr.jsonl'}: " in line and "were not valid utf-8 and became U+FFFD" in line
        assert "policy.max_repaired_share 0.01" in line and "encoding:" in line
        return
    assert code == 0, err
    got = dict(zip(*pq.read_table(out / "documents", columns=["id", "text"]).to_pydict().values()))
    assert sorted(got.values()) == sorted(texts)
    assert not (audit_of(out)["stages"][0]["stats"].get("repaired_text") or {}).get("records")


def test_encoding_auto_detects_per_file():
    from pilewright.transforms.ingest.read import detect_encoding

    fr = "Le café crème à la française, déjà vu. " * 5
    ru = "Москва — столица России, крупнейший город страны. " * 5
    assert detect_encoding(fr.encode("utf-8")) == "utf-8"
    assert detect_encoding(fr.encode("utf-8")[:-1]) == "utf-8"  # a character cut at the end of the sample
    assert detect_encoding(fr.encode("cp1252")) == "cp1252"
    assert detect_encoding(ru.encode("cp1251")) == "cp1251"


def test_an_unknown_or_multibyte_newline_encoding_is_a_config_error(tmp_path):
    from pilewright.pipeline.job.config import ConfigError, parse_config

    for enc, says in (("klingon", "not a text encoding Python knows"), ("utf-16", "not UTF-16/32")):
        with pytest.raises(ConfigError, match=says):
            parse_config({"sources": [{"name": "a", "paths": ["x"], "format": "jsonl", "encoding": enc}]})


def test_row_a_corrupt_and_an_unreadable_file_count_what_they_lost(mixed, tmp_path, monkeypatch):
    """Row 4: one unreadable and one corrupt file among 20 good ones lost 60 of 660 records, exit 0, "kept
    99.7%": a whole failed file counted as one dead letter. Now each counts the records and bytes it lost
    (the corrupt file's rest estimated from the records before the damage), the audit shows both, and the
    policy limits act on them."""
    from pilewright.transforms.ingest import stage as ingest_stage

    data = tmp_path / "data"
    data.mkdir()
    for f in range(20):
        (data / f"good{f:02d}.jsonl").write_bytes(jl([{"id": f"g{f}-{i}", "text": TEXTS[(f + i) % len(TEXTS)][:300]}
                                                      for i in range(30)]))
    noise = [hashlib.blake2b(str(i).encode()).hexdigest() for i in range(400)]
    held = jl([{"id": f"c{i}", "text": f"{TEXTS[i % len(TEXTS)][:200]} " + " ".join(noise[i:i + 6])} for i in range(300)])
    blob = bytearray(gzip.compress(held, mtime=0))
    blob[len(blob) // 3: len(blob) // 3 + 16] = b"\x00" * 16
    (data / "corrupt.jsonl.gz").write_bytes(bytes(blob))
    (data / "locked.jsonl").write_bytes(jl([{"id": f"l{i}", "text": TEXTS[i % len(TEXTS)][:300]} for i in range(30)]))
    locked_size = (data / "locked.jsonl").stat().st_size

    real = ingest_stage.FileSystems

    class Locked:  # root reads any file: the unreadable one is made so where the job opens it
        def __getattr__(self, name):
            return getattr(real, name)

        @staticmethod
        def open(path, *a, **k):
            if path.endswith("locked.jsonl"):
                raise PermissionError(13, "Permission denied", path)
            return real.open(path, *a, **k)

    monkeypatch.setattr(ingest_stage, "FileSystems", Locked())
    before = tree(data)
    cfg = write_config(tmp_path / "c.yaml", f"  - {{name: web, paths: ['{data}/*'], format: jsonl}}",
                       tokenizer=_model(mixed))
    out = tmp_path / "out"
    code, _, err = cli("run", "--config", str(cfg), "--output", str(out), "--quiet")
    assert tree(data) == before
    assert code == 3, err
    assert "lost with their file" in one_line(err) or "input bytes" in one_line(err)
    lost = audit_of(out)["stages"][0]["stats"]["lost_input"]["by_source"]["web"]
    letters = {d["path"].rsplit("/", 1)[-1]: d for d in dead_letters(out) if d.get("lost_records") is not None}
    assert letters["locked.jsonl"]["error_type"] == "unreadable_file"
    assert letters["locked.jsonl"]["lost_bytes"] == locked_size
    corrupt = letters["corrupt.jsonl.gz"]
    docs = pq.read_table(out / "documents", columns=["id"]).column("id").to_pylist()
    truly_lost = 300 - sum(1 for d in docs if d.startswith("web/c"))
    one_by_one = sum(1 for d in dead_letters(out) if d["path"].endswith("corrupt.jsonl.gz") and d.get("lost_records") is None)
    # the estimate for the corrupt file's rest is within a third of the truth, and never below one
    assert corrupt["lost_records"] >= 1 and corrupt["lost_bytes"] > 0
    assert abs(one_by_one + corrupt["lost_records"] - truly_lost) <= truly_lost / 3, (corrupt, one_by_one, truly_lost)
    assert lost["records"] == sum(d.get("lost_records") or 1 for d in dead_letters(out))
    assert lost["bytes"] == locked_size + corrupt["lost_bytes"]
