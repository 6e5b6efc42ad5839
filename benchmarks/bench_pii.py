"""PII stage benchmark: recall/precision per entity on labeled spans, and speed against plain Presidio.

    .venv/bin/python benchmarks/bench_pii.py [--wiki-mb 5] [--email-mb 3] [--corpora ../shared/corpora]

1. Recall and precision on ``pii/presidio_synth_dataset_v2.jsonl.gz`` (character-offset spans), and on
   ``pii/presidio_generated_small.jsonl.gz`` as a held-out check. A gold span is found when a finding of
   the same type overlaps it; "covered" is the stricter leak view: every character of the span redacted
   (by a finding of any type). A finding is correct when it overlaps a gold span of its own type.
2. Real text: on all of ``email/spamassassin_emails.jsonl.gz`` and on the 181 pages of
   ``web_raw/html_pages_article_extraction_benchmark.jsonl.gz`` (their article text: the curated text), an
   independent scan before and after the stage: e-mail-shaped strings whose domain has a public suffix
   (tldextract's bundled list, also after undoing %40 / =3D / &#64; encodings) and what python-phonenumbers
   finds in lenient mode (Leniency.POSSIBLE) for the configured regions. Every one left is classified
   (message id, URL or header id, not a valid number...) and listed; the goal is 0 personal ones left.
3. Speed on a sample of ``general/wikipedia_en-00000.jsonl.gz`` and of ``email/spamassassin_emails.jsonl.gz``:
   the stage's scanner (pre-screen, windows, chunks, batches) against plain ``AnalyzerEngine.analyze``
   loops over the same documents:
   - "plain": Presidio's stock recognizers for the same entities (PhoneRecognizer with the same regions),
     what a user writes. Its NLP engine is the stage's model-free tokenizer: Presidio's default engine
     would load spaCy en_core_web_lg (not installed here, and several times slower), so this plain loop
     is a conservative, faster-than-usual baseline. Its e-mail recognizer is the offline one (the stock
     one fetches the public-suffix list).
   - "same recognizers": the stage's own analyzer called on whole texts, which isolates what the
     pre-screen and windows buy.
   Both wall-clock and CPU (process) time are printed; the machine is shared, so ratios are given on
   CPU time, which other processes do not inflate.
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPORA = REPO.parent / "shared" / "corpora"
GOALS = {"EMAIL_ADDRESS": 0.98, "CREDIT_CARD": 0.98, "IBAN_CODE": 0.98, "IP_ADDRESS": 0.98, "US_SSN": 0.98,
         "PHONE_NUMBER": 0.90}
PRECISION_GOAL = 0.90


def read_jsonl(path: Path, max_mb: float | None = None) -> list[dict]:
    out, size = [], 0
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            out.append(rec)
            size += len(rec["text"].encode("utf-8"))
            if max_mb is not None and size >= max_mb * 1e6:
                break
    return out


# ---- quality -----------------------------------------------------------------------------------------


def quality_table(scanner, path: Path, entities: list[str]) -> bool:
    records = read_jsonl(path)
    scans = scanner.scan([r["text"] for r in records])
    rows = {e: {"gold": 0, "found": 0, "covered": 0, "pred": 0, "fp": 0} for e in entities}
    for rec, scan in zip(records, scans):
        spans = rec["spans"]
        for g in spans:
            if g["label"] not in rows:
                continue
            row = rows[g["label"]]
            row["gold"] += 1
            row["found"] += any(f.entity == g["label"] and f.start < g["end"] and g["start"] < f.end
                                for f in scan.findings)
            covered = set()
            for f in scan.findings:
                covered.update(range(max(f.start, g["start"]), min(f.end, g["end"])))
            row["covered"] += len(covered) == g["end"] - g["start"]
        for f in scan.findings:
            if f.entity in rows:
                rows[f.entity]["pred"] += 1
                rows[f.entity]["fp"] += not any(
                    s["label"] == f.entity and f.start < s["end"] and s["start"] < f.end for s in spans
                )
    print(f"\n{path.name}: {len(records)} documents")
    print(f"{'entity':<14} {'gold':>5} {'found':>6} {'recall':>7} {'covered':>8} {'pred':>5} {'fp':>4} "
          f"{'precision':>9}  goal")
    all_met = True
    for e, r in rows.items():
        recall = r["found"] / r["gold"] if r["gold"] else float("nan")
        covered = r["covered"] / r["gold"] if r["gold"] else float("nan")
        precision = (r["pred"] - r["fp"]) / r["pred"] if r["pred"] else float("nan")
        goal = GOALS.get(e)
        if goal is None or not r["gold"]:
            verdict = "no labeled spans" if not r["gold"] else "-"
        else:
            met = recall >= goal and precision >= PRECISION_GOAL
            all_met &= met
            verdict = f"recall>={goal} precision>={PRECISION_GOAL}: {'met' if met else 'NOT met'}"
        print(f"{e:<14} {r['gold']:>5} {r['found']:>6} {recall:>7.3f} {covered:>8.3f} {r['pred']:>5} "
              f"{r['fp']:>4} {precision:>9.3f}  {verdict}")
    return all_met


# ---- real text: what is left in the curated text -----------------------------------------------------

# An independent scan of what a reader could still find: e-mail-shaped strings (as written, and after
# undoing URL / quoted-printable / HTML encodings of "@" and ".") whose domain has a public suffix, and
# what python-phonenumbers finds in lenient mode (Leniency.POSSIBLE) for the configured regions.
_EMAIL_SHAPE = re.compile(r"[A-Za-z0-9._%+=#'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_QP_SOFT = re.compile(r"=\r?\n")
_ENCODED = re.compile(r"=(3D|40|2E)|%(40|2E|3D)|&#(64|x40);", re.IGNORECASE)
_DECODED = {"3d": "=", "40": "@", "2e": ".", "64": "@", "x40": "@"}
_ID_HEADERS = re.compile(r"^(message-id|references|in-reply-to|content-id|x-message-id|resent-message-id)\s*:",
                         re.IGNORECASE)


def _decoded(text: str) -> str:
    return _ENCODED.sub(lambda m: _DECODED[(m.group(1) or m.group(2) or m.group(3)).lower()],
                        _QP_SOFT.sub("", text))


def _line_of(text: str, i: int) -> str:
    """The header line holding offset ``i``, unfolded back to its first line."""
    start = text.rfind("\n", 0, i) + 1
    while start > 0 and text[start : start + 1] in (" ", "\t"):
        start = text.rfind("\n", 0, start - 1) + 1
    return text[start : text.find("\n", i) if text.find("\n", i) >= 0 else len(text)]


def residual_emails(text: str, tld) -> list[tuple[str, str]]:
    """(address-shaped string, class) for each e-mail-shaped string with a public suffix in ``text``."""
    from pilewright.transforms.pii.embedded import classify_address, in_id_header

    out = {}
    for view in (text, _decoded(text)):
        for m in _EMAIL_SHAPE.finditer(view):
            local, _, domain = m.group().rpartition("@")
            parts = tld(domain)
            if not (parts.suffix and parts.domain):
                continue
            kind = classify_address(local, domain, in_id_header(view, m.start()))[0]
            if kind == "message_id" and _ID_HEADERS.match(_line_of(view, m.start())):
                kind = "message_id (in an id header)"
            out.setdefault(m.group(), kind)
    return sorted(out.items())


def _phone_class(text: str, start: int, end: int) -> str:
    """Why a phone-shaped string is not a personal number, or "PROSE: check" when no rule explains it."""
    a = start
    while a > 0 and not text[a - 1].isspace():
        a -= 1
    b = end
    while b < len(text) and not text[b].isspace():
        b += 1
    token, line = text[a:b], _line_of(text, start).lower()
    before, after = text[start - 1 : start] if start else "", text[end : end + 1]
    raw = text[start:end]
    if re.fullmatch(r"[\d\s.]*\b0\.\d+[\d\s.]*", raw) or re.fullmatch(r"(?:\d+\.\d+\s+)+\d+\.\d+", raw):
        return "decimal numbers side by side (a table)"
    if re.fullmatch(r"\(?(?:1[0-9]|20)\d\d\s*-\s*(?:1[0-9]|20)\d\d\)?", raw):
        return "a range of years"
    if raw.lower().startswith("0x"):
        return "a hexadecimal number"
    if re.fullmatch(r"\d{5}-\d{4}", raw):
        return "a US ZIP+4 postal code"
    if re.fullmatch(r"\d{1,2}\.\d{2,3}\.\d{3,4}\.\d{1,4}", raw):
        return "a version string (left by the stage: not grouped as a number)"
    groups = re.findall(r"\d+", raw)
    if len(groups) >= 4 and sum(len(g) <= 2 for g in groups) >= 3 and not re.search(r"\d\s*-\s*\d", raw):
        return "a row of small numbers (a table)"
    if any(k in token for k in ("http", "/", "?", "&", "%", "=")):
        return "in a URL, path or encoded token"
    if "@" in token or _ID_HEADERS.match(line) or line.startswith(("received:", "x-", "boundary", "\tboundary")):
        return "id in a mail header"
    if "fingerprint" in line or "pgp" in line or "key" in line:
        return "key fingerprint or key id"
    if (before.isalnum() or after.isalnum()) and any(c.isalpha() for c in token):
        return "part of an alphanumeric id or host name"
    if "<PHONE_NUMBER>" in text[max(0, start - 40) : end + 40]:
        return "next to a redacted number (a range or list): PROSE: check"
    return "PROSE: check"


def residual_phones(text: str, regions) -> list[tuple[str, bool, str]]:
    """(raw string, valid in a configured region, class) for what phonenumbers finds (lenient)."""
    import phonenumbers

    found: dict = {}
    for region in regions:
        for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE):
            key = (m.start, m.end)
            valid = phonenumbers.is_valid_number(m.number)
            if key not in found or (valid and not found[key][1]):
                found[key] = (m.raw_string, valid)
    out = []
    for (start, end), (raw, valid) in sorted(found.items()):
        cls = _phone_class(text, start, end) if valid else "not a valid number in any configured region"
        out.append((raw, valid, cls))
    return out


def real_text(scanner, cfg, name: str, texts: list[str], listing) -> int:
    """Before/after counts of address- and number-shaped strings on real text; every one left is listed
    (to ``listing``) and classified. Returns the number of personal ones left."""
    import collections

    from pilewright.transforms.pii.embedded import OFFLINE_TLD

    red, found, left = [], collections.Counter(), collections.Counter()
    for i in range(0, len(texts), cfg.batch_size):
        for r in scanner.redact_many(texts[i : i + cfg.batch_size]):
            red.append(r.text)
            found.update(r.counts)
            for entity, reasons in r.left.items():
                for reason, n in reasons.items():
                    left[f"{entity} left:{reason}"] += n
    print(f"\n{name}: {len(texts)} documents")
    print("stage: redacted " + ", ".join(f"{e} {n}" for e, n in sorted(found.items()))
          + "; left on purpose: " + (", ".join(f"{k} {n}" for k, n in sorted(left.items())) or "none"))
    print(f"{'independent scan':<44} {'before':>8} {'after':>8} {'docs after':>10}")
    personal = 0
    rows = {}
    for label, texts_ in (("before", texts), ("after", red)):
        emails = collections.Counter()
        phones = collections.Counter()
        docs_e = docs_p = 0
        for t in texts_:
            e = residual_emails(t, OFFLINE_TLD)
            p = [x for x in residual_phones(t, cfg.phone_regions)]
            emails.update(e)
            phones.update(p)
            docs_e += bool(e)
            docs_p += any(v for _r, v, _c in p)
        rows[label] = (emails, phones, docs_e, docs_p)
    (eb, pb, _, _), (ea, pa, de, dp) = rows["before"], rows["after"]
    personal_e = sum(n for (s, k), n in ea.items() if k in ("personal", "bounce"))
    personal_p = sum(n for (r, v, c), n in pa.items() if v and "PROSE" in c)
    print(f"{'e-mail-shaped, public suffix':<44} {sum(eb.values()):>8} {sum(ea.values()):>8} {de:>10}")
    print(f"{'  of which personal (user part, not an id)':<44} "
          f"{sum(n for (s, k), n in eb.items() if k in ('personal', 'bounce')):>8} {personal_e:>8}")
    print(f"{'phone numbers, lenient (POSSIBLE)':<44} {sum(pb.values()):>8} {sum(pa.values()):>8}")
    print(f"{'  of which valid in a configured region':<44} {sum(n for k, n in pb.items() if k[1]):>8} "
          f"{sum(n for k, n in pa.items() if k[1]):>8} {dp:>10}")
    print(f"{'  of which not explained (prose)':<44} {'':>8} {personal_p:>8}")
    classes = collections.Counter()
    for (s, k), n in ea.items():
        classes[f"e-mail: {k}"] += n
    for (r, v, c), n in pa.items():
        classes[f"phone: {c}"] += n
    print("left after, by class:")
    for c, n in sorted(classes.items()):
        print(f"  {n:>7}  {c}")
    print("every e-mail-shaped string left (count, class, string):")
    for (s, k), n in sorted(ea.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"  {n:>4}  {k:<30} {s}")
    print("every valid phone number left (count, class, string):")
    for (r, v, c), n in sorted(pa.items(), key=lambda kv: (kv[0][2], kv[0][0])):
        if v:
            print(f"  {n:>4}  {c:<44} {r}")
    invalid = [(r, n) for (r, v, c), n in pa.items() if not v]
    print(f"not valid in any configured region: {sum(n for _, n in invalid)} matches, {len(invalid)} distinct "
          f"(all listed in the listing file); most frequent: "
          + ", ".join(repr(r) for r, _ in sorted(invalid, key=lambda x: -x[1])[:8]))
    if listing is not None:
        listing.write(f"# {name}: every string left after the stage (count, kind, class, string)\n")
        for (s, k), n in sorted(ea.items()):
            listing.write(f"{n}\temail\t{k}\t{s}\n")
        for (r, v, c), n in sorted(pa.items()):
            listing.write(f"{n}\tphone{'' if v else ' (invalid)'}\t{c}\t{r}\n")
    return personal_e + personal_p


# ---- speed -------------------------------------------------------------------------------------------


def stock_analyzer(cfg):
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        CryptoRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )

    from pilewright.transforms.pii.recognizers import OfflineEmailRecognizer, TokenNlpEngine

    registry = RecognizerRegistry(supported_languages=["en"])
    for rec in (OfflineEmailRecognizer(), PhoneRecognizer(supported_regions=cfg.phone_regions),
                CreditCardRecognizer(), IbanRecognizer(), IpRecognizer(), UsSsnRecognizer(), CryptoRecognizer()):
        registry.add_recognizer(rec)
    nlp = TokenNlpEngine()
    nlp.load()
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def timed(fn):
    from pilewright.transforms.pii import recognizers as pii_recognizers

    # every run starts cold: the phone matcher's memo would otherwise carry work from one run to the next
    pii_recognizers._AnyRegionMatcher._memo.clear()
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def speed(name: str, texts: list[str], scanner, cfg) -> dict:
    from pilewright.transforms.pii.actions import Finding, resolve

    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    entities = list(scanner.bundle.entities)
    batch = cfg.batch_size

    def run_scanner():
        out = []
        for i in range(0, len(texts), batch):
            out += scanner.scan(texts[i : i + batch])
        return out

    def plain_loop(analyzer):
        def run():
            n = 0
            for t in texts:
                results = analyzer.analyze(t, "en", entities=entities)
                # counted as the stage counts: above threshold, overlaps merged into one region
                n += len(resolve(Finding(r.start, r.end, r.entity_type, r.score) for r in results
                                 if r.score >= cfg.threshold(r.entity_type)))
            return n
        return run

    scanner.scan(texts[:1])  # warm: the e-mail suffix snapshot and regexes load on first use
    scans, s_wall, s_cpu = timed(run_scanner)
    stock = stock_analyzer(cfg)
    stock.analyze(texts[0], "en", entities=entities)
    n_stock, p_wall, p_cpu = timed(plain_loop(stock))
    n_same, q_wall, q_cpu = timed(plain_loop(scanner.bundle.analyzer))
    skipped = sum(1 for s in scans if s.analyzed_chars == 0)
    analyzed = sum(s.analyzed_chars for s in scans)
    print(f"\n{name}: {len(texts)} documents, {mb:.2f} MB; pre-screen let {skipped} documents through untouched; "
          f"the analyzer saw {analyzed / 1e6:.2f} MB "
          f"({100 * analyzed / max(1, sum(map(len, texts))):.1f}% of characters)")
    print(f"{'run':<34} {'wall s':>7} {'CPU s':>7} {'MB/s wall':>10} {'MB/s CPU':>9} {'regions':>9}")
    n_scanner = sum(len(s.findings) for s in scans)
    for label, wall, cpu, n in (("pilewright pii scanner", s_wall, s_cpu, n_scanner),
                                ("plain AnalyzerEngine loop", p_wall, p_cpu, n_stock),
                                ("same recognizers, whole texts", q_wall, q_cpu, n_same)):
        print(f"{label:<34} {wall:>7.2f} {cpu:>7.2f} {mb / wall:>10.3f} {mb / cpu:>9.3f} {n:>9}")
    ratio_plain, ratio_same = p_cpu / s_cpu, q_cpu / s_cpu
    print(f"speed-up vs plain AnalyzerEngine loop: {ratio_plain:.1f}x CPU ({p_wall / s_wall:.1f}x wall); "
          f"vs same recognizers on whole texts: {ratio_same:.1f}x CPU ({q_wall / s_wall:.1f}x wall)")
    return {"ratio_plain": ratio_plain, "ratio_same": ratio_same}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--wiki-mb", type=float, default=5.0)
    parser.add_argument("--email-mb", type=float, default=3.0)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-real", action="store_true", help="skip the real-text (what is left) section")
    parser.add_argument("--listing", type=Path, help="write every string left on real text to this file")
    args = parser.parse_args(argv)
    if not args.corpora.is_dir():
        print(f"no corpora at {args.corpora}: pass --corpora", file=sys.stderr)
        return 2

    from pilewright.schemas.stages.pii import PATTERN_ENTITIES, PIIConfig
    from pilewright.transforms.pii.scan import PiiScanner

    cfg = PIIConfig()
    scanner = PiiScanner(cfg)
    report = scanner.bundle.report(cfg)
    print(f"entities: {', '.join(report['entities'])}; phone regions: {', '.join(report['phone_regions'])}")
    print(f"spaCy NER: {report['spacy_ner']['model'] or 'not installed (PERSON/LOCATION not detected)'}")
    print("thresholds: " + ", ".join(f"{e}={t}" for e, t in report["thresholds"].items()))

    ok = quality_table(scanner, args.corpora / "pii" / "presidio_synth_dataset_v2.jsonl.gz", list(PATTERN_ENTITIES))
    quality_table(scanner, args.corpora / "pii" / "presidio_generated_small.jsonl.gz", list(PATTERN_ENTITIES))
    print(f"\nrecall/precision goals on presidio_synth_dataset_v2: {'all met' if ok else 'NOT all met'}")
    if not args.skip_real:
        listing = open(args.listing, "w", encoding="utf-8") if args.listing else None
        left = 0
        email = [r["text"] for r in read_jsonl(args.corpora / "email" / "spamassassin_emails.jsonl.gz")]
        left += real_text(scanner, cfg, "spamassassin_emails (all)", email, listing)
        pages = read_jsonl(args.corpora / "web_raw" / "html_pages_article_extraction_benchmark.jsonl.gz")
        left += real_text(scanner, cfg, "html_pages_article_extraction_benchmark: article text",
                          [r["text"] for r in pages], listing)
        if listing is not None:
            listing.close()
        print(f"\nreal-text goal (0 personal addresses or numbers left): {'met' if left == 0 else 'NOT met'} "
              f"({left} left)")
    if args.skip_speed:
        return 0

    wiki = [r["text"] for r in read_jsonl(args.corpora / "general" / "wikipedia_en-00000.jsonl.gz", args.wiki_mb)]
    email = [r["text"] for r in read_jsonl(args.corpora / "email" / "spamassassin_emails.jsonl.gz", args.email_mb)]
    wiki_speed = speed("wikipedia_en-00000 sample", wiki, scanner, cfg)
    speed("spamassassin_emails sample", email, scanner, cfg)
    met = wiki_speed["ratio_plain"] >= 10
    print(f"\nspeed goal (>= 10x the plain AnalyzerEngine loop on Wikipedia, CPU time): "
          f"{'met' if met else 'NOT met'} ({wiki_speed['ratio_plain']:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
