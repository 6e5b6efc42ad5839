"""No leaks: values planted in real text, run through the whole pipeline, are in no output at all.

Values of every entity type sit at document starts and ends, inside URLs, encodings (%40, =3D,
quoted-printable soft breaks, &#64;), glued to letters, folded across header lines and in bounce
addresses, across the chunk edges of a long dense
document, in a document dropped by dedup (rejected before the pii stage), in one dropped by the pii
stage itself, and in malformed input lines (dead letters), one of them cut through a value at the
dead-letter payload limit. The outputs (curated documents, decoded token shards, rejected records, dead
letters, audit, manifest) are then searched with plain regexes, independent of Presidio.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pilewright.pipeline.job.build import run_job
from pilewright.pipeline.job.config import load_config
from pilewright.schemas.stages.pii import PIIConfig
from pilewright.tokenizer.spm import Encoder
from pilewright.tokenizer.arrow_shards import iter_documents, shard_paths
from pilewright.transforms.pii.chunks import chunk_bounds
from pilewright.transforms.pii.prescreen import Prescreen, windows

from conftest import sample_texts

PII = {"chunk_chars": 512, "chunk_overlap": 64, "context_chars": 32, "drop_document_over": 30}


def luhn_complete(prefix: str, length: int) -> str:
    body = (prefix + "7" * length)[: length - 1]
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def iban(country: str, bban: str) -> str:
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    code = f"{country}{98 - int(digits) % 97:02d}{bban}"
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


def planted_values() -> dict[str, list[str]]:
    cards = [luhn_complete(p, 16) for p in ("45391", "45562", "51051", "52000", "60110", "37828")]
    cards = [f"{c[:4]} {c[4:8]} {c[8:12]} {c[12:]}" if i % 3 == 0 else (f"{c[:4]}-{c[4:8]}-{c[8:12]}-{c[12:]}"
             if i % 3 == 1 else c) for i, c in enumerate(cards)]
    return {
        "EMAIL_ADDRESS": [f"{n}@{d}" for n, d in (("maria.lopez", "finmail.com"), ("j.chen", "quantfund.co.uk"),
                                                  ("ops-desk", "brokerage.example.org"), ("a.nowak", "bank.pl"),
                                                  ("kim.lee", "mail.kr"), ("tom_b", "sec-filings.net"))],
        "PHONE_NUMBER": ["(415) 867-5309", "+44 20 7946 0321", "212-555-0147", "+41 44 668 18 00",
                         "(617) 253-1000", "+33 1 42 68 53 00"],
        "CREDIT_CARD": cards,
        "IBAN_CODE": [iban("DE", "370400440532013000"), iban("GB", "WEST12345698765432"),
                      iban("FR", "20041010050500013M02606"), iban("NL", "ABNA0417164300"),
                      iban("CH", "00762011623852957"), iban("DE", "500105175407324931")],
        "IP_ADDRESS": ["203.0.113.77", "198.51.100.23", "192.0.2.146", "2001:db8:85a3::8a2e:370:7334",
                       "10.41.7.230", "172.16.254.17"],
        "US_SSN": ["536-22-1947", "401-83-2296", "219-09-9999", "078-51-1121", "321-54-7785", "457-55-5462"],
        "CRYPTO": ["1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
                   "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "0x52908400098527886E0F7030069857D2E4169EE7",
                   "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "3Ai1JZ8pdJb2ksieUV8FsxSNVJCpoPi8W6"],
    }


# ---- the independent scanner: plain regexes, no Presidio ---------------------------------------------

SCAN = [
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    re.compile(r"\+?\(?\d[\d\s()./-]{5,}\d"),
    re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,3})?", re.IGNORECASE),
    re.compile(r"(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{1,4}", re.IGNORECASE),
    re.compile(r"\b(?:bc1|[13])[a-km-zA-HJ-NP-Z1-9]{25,59}\b|0x[0-9a-fA-F]{40}"),
]


def _norm(s: str) -> str:
    return re.sub(r"[^0-9a-z]", "", s.lower())


def leaks(text: str, values: list[str]) -> list[str]:
    """Planted values found in ``text``: verbatim, or as what a regex match normalizes to."""
    found = [v for v in values if v in text]
    norms = {_norm(v): v for v in values}
    for rx in SCAN:
        for m in rx.finditer(text):
            n = _norm(m.group())
            found += [v for nv, v in norms.items() if len(nv) >= 7 and nv in n]
    digits = re.sub(r"\D", "", text)
    found += [v for v in values if len(re.sub(r"\D", "", v)) >= 12 and re.sub(r"\D", "", v) in digits]
    return sorted(set(found))


# Values where real mail and web pages put them. Each pair: (how the text writes it, the personal part
# that must not survive: the user name of an address, the digits of a number).
CONTEXTS = [
    ("http://lists.example.com/unsubscriber.asp?userid=vexmorran@aol.com&list=7", "vexmorran"),
    ("remove.php?userid=quorlith.abbes@netnoteinc.com", "quorlithabbes"),
    ("https://r.example.net/go?u=tarquil.benn%40gmail.com&t=1", "tarquilbenn"),
    ("rl_login?email=3Dzorvath-ink@yahoo.com", "zorvathink"),
    ("<a href=3D\"mailto:pellucid.ashe@hot=\nmail.com\">write</a>", "pellucidashe"),
    ("From: mb/ondrakovic@dcs.qmul.ac.uk", "ondrakovic"),
    ('<a href="mailto:grisbane.hollow@btamail.net.cn">unsubscribe</a>', "grisbanehollow"),
    ("see #fenwrightly@outlook.com now", "fenwrightly"),
    ("<halvic.dorne@proton.me>", "halvicdorne"),
    ("Contactmirabel.quade@gmail.com today", "mirabelquade"),
    ("mail saskvintor@aol.comWrite back", "saskvintor"),
    ("To: brisco.vantell@\n\tmail.com", "briscovantell"),
    ("Errors-To: list-bounces--corvathyn=nyxmail.com@lists.example", "corvathyn"),
    ("Return-Path: <LISTMANAGER-949326-2002.08.30--dravenholt#spamassassin.taint.org@mail.ryanairmail.com>",
     "dravenholt"),
    ("yelnickwarr&#64;gmail.com", "yelnickwarr"),
    ("Ph: 646-555-0173W 718-555-0162Fax", "6465550173"),
    ("Ph: 646-555-0173W 718-555-0162Fax", "7185550162"),
    ("Tel(312) 555-0187 anytime", "3125550187"),
]
CONTEXT_TEXT = " ; ".join(dict.fromkeys(text for text, _ in CONTEXTS))
# the same, on one JSON line: no raw line breaks (a dead letter is one input line)
CONTEXT_LINE = " ; ".join(dict.fromkeys(t for t, _ in CONTEXTS if "\n" not in t))


def context_leaks(text: str) -> list[str]:
    """Personal parts of the CONTEXTS values present in ``text`` (letters and digits compared only)."""
    flat = _norm(text)
    return sorted({part for _t, part in CONTEXTS if part in flat})


def test_the_independent_scanner_sees_every_planted_value():
    assert context_leaks(CONTEXT_TEXT) == sorted({p for _t, p in CONTEXTS})
    values = [v for vs in planted_values().values() for v in vs]
    text = " filler ".join(values)
    assert leaks(text, values) == sorted(set(values))
    assert leaks(text.replace(" ", "\n"), values) == sorted(set(values))


# ---- the run -----------------------------------------------------------------------------------------


def raw_chunk_edges(text: str, cfg: PIIConfig) -> set[int]:
    """Where the scanner cuts ``text`` into chunks, before moving the cuts out to white space."""
    regions = windows(text, Prescreen(cfg.entities).candidates(text), cfg.context_chars)
    chunks = [c for a, b in regions for c in chunk_bounds(a, b, cfg.chunk_chars, cfg.chunk_overlap)]
    return {e for a, b in chunks for e in (a, b)} - {a for a, _ in regions} - {b for _, b in regions}


def build_corpus(data: Path) -> tuple[list[str], list[str], int]:
    """Writes the input files; returns (all planted values, values in the dense document, values across
    a chunk edge)."""
    values = planted_values()
    flat = [v for vs in values.values() for v in vs]
    texts = sample_texts(12)
    records = []
    k = 0

    def take(n: int) -> list[str]:
        nonlocal k
        out = [flat[(k + i) % len(flat)] for i in range(n)]
        k += n
        return out

    for r in texts[:8]:  # a value at the very start and at the very end of real text
        first, last = take(2)
        records.append({"id": r["id"], "text": f"{first} {r['text'][:2500]} {last}"})
    # a long document dense with values: one scan region, cut into 512-character chunks, with more values
    # put across the chunk edges (first edge first: an insertion moves the text after it, not the edges)
    cfg = PIIConfig(**PII)
    body = texts[8]["text"].split()
    dense_values = take(20)
    words = []
    for i, v in enumerate(dense_values):
        words += body[i * 9 : i * 9 + 9] + [v]
    dense = " ".join(words)
    long_values = [v for e in ("IBAN_CODE", "CRYPTO", "EMAIL_ADDRESS") for v in values[e]]
    done = 0
    while True:
        pending = sorted(e for e in raw_chunk_edges(dense, cfg) if e > done)
        if not pending:
            break
        done = pending[0]
        v = long_values[len(dense_values) % len(long_values)]
        p = dense.rfind(" ", 0, done - len(v) // 2 + 1)
        if p >= 0 and p + 1 < done < p + 1 + len(v):
            dense = dense[:p] + " " + v + dense[p:]
            dense_values.append(v)
    edges = raw_chunk_edges(dense, cfg)
    across = sum(1 for v in set(dense_values) for m in re.finditer(re.escape(v), dense)
                 if any(m.start() < e < m.end() for e in edges))
    records.append({"id": "dense", "text": dense})
    # values in URLs, encodings, glued text, folded headers, bounce addresses
    records.append({"id": "contexts", "text": texts[11]["text"][:300] + "\n" + CONTEXT_TEXT + "\n"
                    + texts[11]["text"][300:900]})
    # the same document twice: dedup (before pii) rejects one copy, with a snippet of its raw text
    dup = f"{take(1)[0]} and {take(1)[0]} {CONTEXT_LINE} " + texts[9]["text"][:600]
    records += [{"id": "dup1", "text": dup}, {"id": "dup2", "text": dup}]
    # more values than drop_document_over: the pii stage rejects it
    records.append({"id": "many", "text": " ; ".join(take(35)) + " " + texts[10]["text"][:400]})
    lines = [json.dumps(r) for r in records]
    # malformed lines -> dead letters whose payload prefix holds values, one cut through a value at 256
    cut_value = values["CREDIT_CARD"][2]
    pad = "x" * (256 - len('{"id": "cut", "text": ') - 8)
    lines += [
        '{"id": "bad1", "text": ' + f"contact {take(1)[0]} or {take(1)[0]} " + "unquoted}",
        json.dumps({"id": "bad2", "body": f"{take(1)[0]} {take(1)[0]}"}),
        '{"id": "bad3", "text": ' + CONTEXT_LINE[:200] + " unquoted}",
        '{"id": "cut", "text": ' + pad + " " + cut_value + " ",
    ]
    (data / "docs.jsonl").write_text("\n".join(lines) + "\n")

    return flat, dense_values, across


@pytest.fixture(scope="module")
def pii_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("pii_e2e")
    data = root / "data"
    data.mkdir()
    values, dense_values, across = build_corpus(data)
    pii_yaml = ", ".join(f"{k}: {v}" for k, v in PII.items())
    cfg = root / "c.yaml"
    cfg.write_text(
        "sources: [{name: web, paths: ['data/*.jsonl'], format: jsonl}]\n"
        f"stages: {{dedup: {{minhash: {{enabled: false}}}}, pii: {{{pii_yaml}}}}}\n"
        "tokenizer: {train: {vocab_size: 500}}\nshards: {num_shards: 2}\n"
    )
    result = run_job(load_config(str(cfg)), [], str(root / "out"))  # the default runner setup, as `pilewright run`
    return Path(result.out_dir), result, values, dense_values, across


def output_texts(out: Path) -> dict[str, list[str]]:
    """Every piece of text the run wrote, by output."""
    docs = [r["text"] for f in sorted((out / "documents").glob("*.parquet"))
            for r in pq.read_table(f, columns=["text"]).to_pylist()]
    encoder = Encoder((out / "tokenizer" / "tokenizer.model").read_bytes())
    shards = [encoder.decode(tokens[:-1]) for _id, _src, tokens in iter_documents(shard_paths(out))]
    rejected = [" ".join(str(v) for v in r.values())
                for f in sorted((out / "rejected").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    dead = [line for f in sorted((out / "dead_letter").glob("*.jsonl")) for line in f.read_text().splitlines()]
    dead += [" ".join(str(v) for v in json.loads(line).values()) for line in dead]  # escapes decoded too
    meta = [(out / "audit" / "audit.json").read_text(), (out / "manifest.json").read_text()]
    return {"documents": docs, "token shards": shards, "rejected": rejected, "dead letters": dead, "audit": meta}


def test_the_run_exercised_every_path(pii_run):
    out, result, _values, dense_values, across = pii_run
    assert across >= 3  # values really sat across chunk edges
    texts = output_texts(out)
    assert len(texts["documents"]) == len(texts["token shards"]) >= 9
    rejected = [r for f in (out / "rejected").glob("*.parquet") for r in pq.read_table(f).to_pylist()]
    assert {(r["stage"], r["reason"]) for r in rejected} == {("dedup", "dedup:exact"),
                                                              ("pii", "pii:too_many_entities")}
    dead = [json.loads(line) for f in (out / "dead_letter").glob("*.jsonl") for line in f.read_text().splitlines()]
    assert {d["error_type"] for d in dead} >= {"invalid_json", "missing_text_field"}
    pii = next(s for s in result.audit["stages"] if s["name"] == "pii")
    assert pii["conserved"] and pii["rejected"] == 1
    counts = json.loads(json.dumps(pii["stats"]["entities_by_source"]))["total"]["entities"]
    assert set(counts) == set(planted_values())
    # the audit's per-entity found/left table covers every entity found, with the same counts
    found_left = pii["stats"]["found_and_left"]
    assert {e: row["redacted"] for e, row in found_left.items()} == counts
    dense = next(t for t in texts["documents"] if t.count("<") >= len(dense_values))
    assert dense.count(">") >= len(dense_values)


def test_no_planted_value_survives_in_any_output(pii_run):
    out, _result, values, _dense, _across = pii_run
    found = {name: sorted({v for t in texts for v in leaks(t, values)}) for name, texts in output_texts(out).items()}
    assert found == {name: [] for name in found}


def test_no_value_in_urls_encodings_or_bounce_addresses_survives(pii_run):
    out = pii_run[0]
    texts = output_texts(out)
    # the planted contexts did reach the stage: the curated document is there, redacted
    assert any("<EMAIL_ADDRESS>" in t and "unsubscriber.asp?" in t for t in texts["documents"])
    found = {name: sorted({p for t in ts for p in context_leaks(t)}) for name, ts in texts.items()}
    assert found == {name: [] for name in found}
