"""Curation profiles on real finance text: what each source keeps under `web` and under its own profile,
what share of a junk set each profile drops, `web`'s agreement with today's decisions, and language ID.

    .venv/bin/python benchmarks/bench_domains.py [--max-docs N] [--junk-per-kind N] [--wiki-docs N]

The stages are the sample config's (``normalize: {}``, ``langid: {languages: [en]}``, ``quality`` with its
four rule sets at their published defaults): "today" is those blocks; a profile is resolved over them as
a run resolves it for a source (``schemas.profiles.resolve_source_stages``), and each document goes
normalize -> langid -> quality with the same pure functions the Beam stages call.

1. Finance sources (``../shared/corpora/finance``): share kept under `web` and under the source's own
   profile (SEC filings -> filings, Reuters-21578 -> newswire, earnings calls -> transcripts), over all
   documents and over those with >= 50 words (the goal: >= 95% of those kept by the domain profile), and
   the top reasons each drops.
2. Junk set, built from real text in ``../shared/corpora``: spam bodies (spamassassin), boilerplate and
   navigation text cut from the WARC pages in ``web_raw`` (nav/header/footer/menu elements), shuffled-word
   gibberish (Wikipedia paragraphs, words shuffled with a seeded RNG), lorem ipsum, non-English sentences
   (lingua's test sentences, 8 per document), and tables without prose (the table blocks of the SEC
   filings, their prose lines removed). Share dropped by each profile, per kind and overall (goal >= 90%).
3. `web` vs today on a Wikipedia sample: share of identical decisions (goal 100%).
1b. The SEC filings by kind (labelled in ``FILINGS_NOT_PROSE``): share of the prose filings the `filings`
   profile keeps (goal >= 95%) and share of the forms and data it drops as ``filings:not_prose`` (goal
   >= 90%), each XML form also as its visible text.
4. Language ID on lingua's test sentences: lid.176 alone, with lingua where lid.176 is unsure (the
   default), and over ``prose_lines``; the filings dropped as ``langid:low_score`` under `web` and `filings`.

Deterministic (seeded shuffles, documents chosen by a keyed hash); no timing figures.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import html as html_lib
import json
import os
import random
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable, Optional

HERE = Path(__file__).resolve().parent
CORPORA = Path(os.environ.get("BENCH_SHARED", HERE.parent.parent / "shared")) / "corpora"
FINANCE = {
    # source -> (files, its own profile)
    "sec_filings": (["finance/sec_filings_edgartools.jsonl.gz"], "filings"),
    "reuters_news": (["finance/reuters21578_news.jsonl.gz"], "newswire"),
    "earnings_calls": (
        ["finance/earnings_calls_la83la.jsonl.gz", "finance/earnings_calls_rev_earnings21_22.jsonl.gz"],
        "transcripts",
    ),
}
PROFILES = ("web", "filings", "newswire", "transcripts")
SEED = 1234
LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et "
    "dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip "
    "ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu "
    "fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia "
    "deserunt mollit anim id est laborum."
)


def _key(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).hexdigest()


def read_jsonl(rel: str) -> list[dict]:
    with gzip.open(CORPORA / rel, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def pick(rows: list[dict], n: Optional[int], salt: str) -> list[dict]:
    """At most ``n`` rows, chosen by a keyed hash of their position (deterministic, source order kept)."""
    if n is None or len(rows) <= n:
        return rows
    chosen = set(sorted(range(len(rows)), key=lambda i: _key(salt, str(i)))[:n])
    return [r for i, r in enumerate(rows) if i in chosen]


# --- the curation each document goes through -------------------------------------------------------------

def base_stages():
    from pilewright.schemas.config import StagesConfig

    return StagesConfig.model_validate({"normalize": {}, "langid": {"languages": ["en"]}, "quality": {}})


class Curator:
    """normalize -> langid -> quality of one resolved profile, with the Beam stages' pure functions."""

    _models: dict = {}

    def __init__(self, profile: Optional[str]):
        from pilewright.schemas.profiles import resolve_source_stages
        from pilewright.transforms.fasttext_models import DEFAULT_LANGID_MODEL, load_fasttext, local_model_path
        from pilewright.transforms.normalize.stage import Normalizer
        from pilewright.transforms.quality.rules import RuleScorer

        stages = base_stages()
        blocks = resolve_source_stages(profile, stages, {}) if profile else {
            "normalize": stages.normalize, "langid": stages.langid, "quality": stages.quality}
        self.blocks = blocks
        self.normalize = Normalizer(blocks["normalize"])
        path = blocks["langid"].model or DEFAULT_LANGID_MODEL
        if path not in Curator._models:
            Curator._models[path] = load_fasttext(local_model_path(path))
        self.model = Curator._models[path]
        self.second = None
        if blocks["langid"].second_detector == "lingua":
            from pilewright.transforms.langid.stage import SecondDetector

            if "lingua" not in Curator._models:
                Curator._models["lingua"] = SecondDetector()
            self.second = Curator._models["lingua"]
        self.rules = RuleScorer(blocks["quality"])

    def decide(self, texts: list[str]) -> list[Optional[str]]:
        """Each text's reason (``<stage>:<reason>``), None when kept."""
        from pilewright.transforms.langid.stage import identify, langid_reason

        out: list[Optional[str]] = [None] * len(texts)
        todo, langs = [], []
        for i, text in enumerate(texts):
            early = self.normalize.reject_reason(text)
            if early:
                out[i] = f"normalize:{early}"
                continue
            text = self.normalize(text)
            if not text:
                out[i] = "normalize:empty"
                continue
            lang, score = identify(self.model, text, self.blocks["langid"], self.second)
            reason = langid_reason(lang, score, self.blocks["langid"])
            if reason:
                out[i] = f"langid:{reason}"
                continue
            todo.append((i, text))
            langs.append(lang)
        for lo in range(0, len(todo), 500):
            chunk = todo[lo:lo + 500]
            scores = self.rules.score_batch([t for _, t in chunk], langs[lo:lo + 500])
            for (i, _), s in zip(chunk, scores):
                out[i] = s.reason and f"quality:{s.reason}"
        return out


# --- filings: prose or forms and data ---------------------------------------------------------------------

# The SEC filings that are forms and data rather than prose, labelled by reading them (every other filing
# of the file is a report, prospectus, proxy or current report a reader reads).
FILINGS_NOT_PROSE = {
    "sec-sgml_0001127602-25-001055.txt": "Form 4 as XML",
    "sec-sgml_0001398344-24-000491.nc.txt": "Form D as XML",
    "sec-sgml_header_with_double_newlines.txt": "SGML header alone",
    "sec-sgml_0001094891-00-000193.txt": "Form 4 as a text table (2000)",
    "sec-sgml_0000950129-95-001652.txt": "Form 24F-2, a fill-in notice (1995)",
    "sec-troweprice.DEF14A.html": "EDGAR filing-index page of a DEF 14A",
}


def visible_text(markup: str) -> str:
    """An XML document as a text extractor shows it: the text between tags, one value a line."""
    text = html_lib.unescape(re.sub(r"<[^>]+>", "\n", markup))
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def filings_labelled() -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """(id, text) of the prose filings; (id, what, text) of the forms and data, with each XML form also
    as its extracted visible text (how a held-out set extracted to text shows it)."""
    prose, forms = [], []
    for r in read_jsonl(FINANCE["sec_filings"][0][0]):
        what = FILINGS_NOT_PROSE.get(r["id"])
        if what is None:
            prose.append((r["id"], r["text"]))
            continue
        forms.append((r["id"], what, r["text"]))
        if "XML" in what:
            forms.append((r["id"] + " (visible text)", what + ", extracted to text", visible_text(r["text"])))
    return prose, forms


# --- the junk set -----------------------------------------------------------------------------------------

def spam_bodies(n: int) -> list[str]:
    rows = [r for r in read_jsonl("email/spamassassin_emails.jsonl.gz") if r.get("label") == "spam"]
    out = []
    for r in pick(rows, n * 2, "spam"):
        body = r["text"].split("\n\n", 1)[-1]  # the headers end at the first blank line
        if "<" in body and ">" in body:
            body = html_lib.unescape(re.sub(r"(?s)<(script|style).*?</\1>|<[^>]+>", " ", body))
        body = "\n".join(line.strip() for line in body.splitlines() if line.strip())
        if len(body.split()) >= 20:
            out.append(body)
    return out[:n]


_BOILER = re.compile(r"nav|menu|footer|header|breadcrumb|sidebar|social|share|cookie|subscribe", re.I)


def boilerplate_from_warc(n: int) -> list[str]:
    """Navigation, header, footer and menu text of the WARC pages, one line per link or list item."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from lxml import html as lxml_html

    out = []
    with open(CORPORA / "web_raw" / "repacked_trafilatura_eval_pages.warc.gz", "rb") as f:
        for rec in ArchiveIterator(f, record_types=WarcRecordType.response):
            payload = rec.reader.read()
            try:
                tree = lxml_html.fromstring(payload)
            except Exception:
                continue
            lines: list[str] = []
            for el in tree.iter():
                if not isinstance(el.tag, str):
                    continue
                ident = f"{el.tag} {el.get('class', '')} {el.get('id', '')} {el.get('role', '')}"
                if el.tag in ("nav", "header", "footer") or _BOILER.search(ident):
                    for item in el.iter("a", "li", "button", "span"):
                        text = " ".join((item.text_content() or "").split())
                        if text and text not in lines:
                            lines.append(text)
            if sum(len(x.split()) for x in lines) >= 30:
                out.append("\n".join(lines))
            if len(out) >= n:
                break
    return out


def wiki_paragraph_docs(n: int, salt: str) -> list[str]:
    rows = []
    with gzip.open(CORPORA / "general" / "wikipedia_en-00000.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            rows.append(json.loads(line)["text"])
            if len(rows) >= 20 * n:
                break
    return [r["t"] for r in pick([{"t": t} for t in rows if len(t.split()) >= 80], n, salt)]


def shuffled_words(n: int) -> list[str]:
    out = []
    for i, text in enumerate(wiki_paragraph_docs(n, "gibberish")):
        rng = random.Random(f"{SEED}:{i}")
        paras = []
        for para in text.split("\n"):
            words = para.split()
            rng.shuffle(words)
            if words:
                paras.append(" ".join(words))
        out.append("\n".join(paras))
    return out


def lorem_ipsum(n: int) -> list[str]:
    words = LOREM.split()
    out = []
    for i in range(n):
        rng = random.Random(f"{SEED}:lorem:{i}")
        paras = [LOREM] if i % 2 == 0 else []
        for _ in range(3 + i % 5):
            w = words[:]
            rng.shuffle(w)
            paras.append(" ".join(w[: rng.randint(25, len(w))]).capitalize().rstrip(",.") + ".")
        out.append("\n\n".join(paras))
    return out


def non_english(n: int) -> list[str]:
    rows = [r for r in read_jsonl("langid/lingua_testdata_sample.jsonl.gz")
            if r.get("granularity") == "sentences" and r["lang"] != "en"]
    by_lang = defaultdict(list)
    for r in rows:
        by_lang[r["lang"]].append(r["text"])
    docs = []
    for lang in sorted(by_lang):
        sents = by_lang[lang]
        for lo in range(0, len(sents) - 7, 8):
            docs.append(" ".join(sents[lo:lo + 8]))
    return [d["t"] for d in pick([{"t": d} for d in docs], n, "non-english")]


def tables_without_prose(n: int) -> list[str]:
    """The table blocks of the SEC filings: runs of short cell lines, prose lines removed."""
    out = []
    for r in read_jsonl("finance/sec_filings_edgartools.jsonl.gz"):
        blocks = [b.strip() for b in r["text"].split("\n\n") if b.strip()]
        run: list[str] = []
        for b in blocks + [""]:
            cell = b and len(b.split()) <= 6 and not b.endswith((".", "?", "!"))
            if cell:
                run.append(b)
                continue
            if len(run) >= 40 and sum(any(c.isdigit() for c in x) for x in run) * 3 >= len(run):
                out.append("\n\n".join(run))
            run = []
    return [d["t"] for d in pick([{"t": d} for d in out], n, "tables")]


def junk_set(per_kind: int) -> dict[str, list[str]]:
    return {
        "spam": spam_bodies(per_kind),
        "boilerplate_nav": boilerplate_from_warc(per_kind),
        "shuffled_words": shuffled_words(per_kind),
        "lorem_ipsum": lorem_ipsum(per_kind),
        "non_english": non_english(per_kind),
        "tables_no_prose": tables_without_prose(per_kind),
    }


# --- the report -------------------------------------------------------------------------------------------

def _pct(a: int, b: int) -> str:
    return f"{100.0 * a / b:5.1f}%" if b else "   n/a"


def _top(reasons: Iterable[Optional[str]], k: int = 3) -> str:
    c = Counter(r for r in reasons if r)
    return ", ".join(f"{r} {n}" for r, n in c.most_common(k)) or "-"


def langid_accuracy() -> tuple[int, float, float, float]:
    """Sentences, and accuracy of lid.176 alone, lid.176 + lingua, and lid.176 + lingua over prose lines."""
    from pilewright.schemas.stages.quality import LangIdConfig
    from pilewright.transforms.fasttext_models import DEFAULT_LANGID_MODEL
    from pilewright.transforms.langid.stage import SecondDetector, identify

    rows = [r for r in read_jsonl("langid/lingua_testdata_sample.jsonl.gz") if r.get("granularity") == "sentences"]
    model = Curator._models[DEFAULT_LANGID_MODEL]
    second = Curator._models.get("lingua") or SecondDetector()
    code = {"nb": "no"}

    def acc(cfg: LangIdConfig, det) -> float:
        return sum(identify(model, r["text"], cfg, det)[0] == code.get(r["lang"], r["lang"]) for r in rows) / len(rows)

    return len(rows), acc(LangIdConfig(), None), acc(LangIdConfig(), second), acc(LangIdConfig(over="prose_lines"), second)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-docs", type=int, default=800, help="documents per finance source at most (keyed-hash choice)")
    ap.add_argument("--junk-per-kind", type=int, default=100)
    ap.add_argument("--wiki-docs", type=int, default=300)
    args = ap.parse_args()
    if not (CORPORA / "finance").exists():
        print(f"corpora not found at {CORPORA}; nothing to measure")
        return 0
    sys.stdout.reconfigure(line_buffering=True)
    from pilewright.schemas.profile_presets import PROFILES_VERSION

    curators = {p: Curator(p) for p in PROFILES}
    today = Curator(None)
    print(f"profiles {PROFILES_VERSION}; stages: the sample config's normalize/langid/quality blocks")

    print("\n1. Finance sources: share kept")
    print(f"{'source':15s} {'profile':12s} {'docs':>5s} {'web':>7s} {'own':>7s} | {'>=50w':>5s} {'web':>7s} {'own':>7s}  own profile drops (>=50 words)")
    for source, (files, own) in FINANCE.items():
        rows = []
        for rel in files:
            rows.extend(read_jsonl(rel))
        rows = pick(rows, args.max_docs, source)
        texts = [r["text"] for r in rows]
        long_ = [len(t.split()) >= 50 for t in texts]
        web = curators["web"].decide(texts)
        mine = curators[own].decide(texts)
        n, nl = len(texts), sum(long_)
        kw = sum(r is None for r in web)
        ko = sum(r is None for r in mine)
        kwl = sum(r is None for r, lg in zip(web, long_) if lg)
        kol = sum(r is None for r, lg in zip(mine, long_) if lg)
        print(f"{source:15s} {own:12s} {n:5d} {_pct(kw, n)} {_pct(ko, n)} | {nl:5d} {_pct(kwl, nl)} {_pct(kol, nl)}  "
              f"{_top(r for r, lg in zip(mine, long_) if lg)}")
        print(f"{'':15s} {'(web drops)':12s} {_top(web)}")
        if len(rows) <= 50:  # a small source: every document its own profile drops, to judge by eye
            for r, reason in zip(rows, mine):
                if reason:
                    print(f"{'':15s}   dropped {r.get('id', '?')[:48]:48s} {reason}")

    print("\n1b. SEC filings by kind under `filings` (goals: prose kept >= 95%, forms and data dropped as "
          "filings:not_prose >= 90%)")
    prose, forms = filings_labelled()
    got = curators["filings"].decide([t for _, t in prose])
    kept = sum(r is None for r in got)
    print(f"prose filings kept: {kept} of {len(prose)} ({_pct(kept, len(prose)).strip()})"
          f"{'; dropped: ' + _top(got, 5) if kept < len(prose) else ''}")
    got = curators["filings"].decide([t for _, _, t in forms])
    np_ = sum(r == "normalize:filings:not_prose" for r in got)
    print(f"forms and data dropped as filings:not_prose: {np_} of {len(forms)} ({_pct(np_, len(forms)).strip()}); "
          f"dropped at all: {sum(r is not None for r in got)}")
    for (doc_id, what, _), reason in zip(forms, got):
        print(f"   {doc_id[:52]:52s} {what[:40]:40s} {reason}")

    print("\n2. Junk set: share dropped")
    junk = junk_set(args.junk_per_kind)
    header = f"{'kind':16s} {'docs':>5s} " + " ".join(f"{p:>12s}" for p in PROFILES)
    print(header)
    totals = Counter()
    n_all = 0
    for kind, texts in junk.items():
        cells = []
        for p in PROFILES:
            dropped = sum(r is not None for r in curators[p].decide(texts))
            totals[p] += dropped
            cells.append(f"{_pct(dropped, len(texts)):>12s}")
        n_all += len(texts)
        print(f"{kind:16s} {len(texts):5d} " + " ".join(cells))
    print(f"{'all junk':16s} {n_all:5d} " + " ".join(f"{_pct(totals[p], n_all):>12s}" for p in PROFILES))

    print("\n3. `web` profile vs today's stages on Wikipedia")
    wiki = wiki_paragraph_docs(args.wiki_docs, "wiki-agreement")
    a, b = curators["web"].decide(wiki), today.decide(wiki)
    same = sum(x == y for x, y in zip(a, b))
    print(f"{len(wiki)} documents, identical decisions {same} ({_pct(same, len(wiki)).strip()}); kept {sum(x is None for x in b)}")

    print("\n4. Language ID")
    n, alone, both, prose_lines = langid_accuracy()
    print(f"lingua sentences {n} (all 75 languages, covered by lid.176 or not, any length): accuracy lid.176 alone "
          f"{alone:.4f}, with lingua where lid.176 is unsure {both:.4f}, the same over prose_lines {prose_lines:.4f}")
    filings = [r["text"] for r in read_jsonl(FINANCE["sec_filings"][0][0])]
    for p in ("web", "filings"):
        low = sum(r == "langid:low_score" for r in curators[p].decide(filings))
        print(f"SEC filings dropped as langid:low_score under {p}: {low} of {len(filings)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
