"""``pilewright diff OUT_A OUT_B``: what changed between two runs of the same inputs, from their files.

Every document's curation fate in each run (kept; rejected by a stage for a reason; dead letter) is read
from OUT/signals (or OUT/documents and OUT/rejected), and the two are compared: documents kept in one run
and not the other (per source and the stage that dropped them), reasons that changed, tokens gained and lost
per domain, the config settings that differ (the likely cause), and samples of flipped documents with their
text. Refuses two runs whose manifests record different input fingerprints. ``diff_html`` renders the page
in the audit report's style.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Optional

from pilewright.pipeline.audit.explain import config_changes, plain_config
from pilewright.pipeline.audit.profile import reason_group
from pilewright.pipeline.audit.runfiles import Run, RunFilesError
from pilewright.schemas.errors import UserError
from pilewright.transforms.hashing import stable_hash64

KEPT, ABSENT, DEAD = "kept", "absent", "dead_letter"
SAMPLES = 5


class DiffError(UserError):
    """Two runs that cannot be compared."""


@dataclass(frozen=True)
class Fate:
    kind: str  # "kept", "rejected", "dead_letter", "absent"
    stage: str = ""
    reason: str = ""  # reason group (``rule[:detail]``)
    tokens: int = 0

    @property
    def label(self) -> str:
        if self.kind in (KEPT, ABSENT):
            return self.kind
        if self.kind == DEAD:
            return f"dead letter at {self.stage}: {self.reason}"
        reason = self.reason if self.reason.startswith(self.stage + ":") else f"{self.stage}:{self.reason}"
        return reason


def fates(run: Run) -> dict[str, Fate]:
    out: dict[str, Fate] = {}
    for doc_id, row in run.rows.items():
        if row.fate == KEPT:
            out[doc_id] = Fate(KEPT, tokens=int(row.n_tokens or 0))
        else:
            out[doc_id] = Fate("rejected", row.stage, reason_group(row.reason))
    for d in run.dead_letters:
        if d.get("doc_id") and d["doc_id"] not in out:
            out[d["doc_id"]] = Fate(DEAD, d["stage"], d["error_type"])
    return out


@dataclass
class Flip:
    id: str
    source: str
    domain: str
    a: str
    b: str
    stage: str  # the stage that dropped it (in whichever run dropped it)
    tokens: int  # its tokens in the run that kept it
    excerpt: str = ""


@dataclass
class Diff:
    a: str
    b: str
    inputs_sha256: str
    identical: bool
    kept_a: int
    kept_b: int
    config: list[tuple[str, object, object]]
    # per (source, stage): {"lost": n, "gained": n, "reason_changed": n}
    by_source_stage: list[dict]
    # per domain: tokens of the documents gained and lost, and the shards' totals in each run
    tokens_by_domain: dict[str, dict[str, int]]
    lost: list[str] = field(default_factory=list)
    gained: list[str] = field(default_factory=list)
    reason_changed: list[str] = field(default_factory=list)
    samples: dict[str, list[Flip]] = field(default_factory=dict)

    def as_json(self) -> dict:
        d = asdict(self)
        d["config"] = [{"key": k, "a": a, "b": b} for k, a, b in self.config]
        return d


def _check_inputs(a: Run, b: Run) -> str:
    ia, ib = a.manifest.get("inputs"), b.manifest.get("inputs")
    for run, inputs in ((a, ia), (b, ib)):
        if not inputs:
            raise DiffError(f"{run.out}: its manifest records no input fingerprint (written by an older "
                            "pilewright); rerun it to compare")
    if ia["sha256"] != ib["sha256"]:
        changed = sorted(s for s in set(ia["sources"]) | set(ib["sources"])
                         if ia["sources"].get(s) != ib["sources"].get(s))
        raise DiffError(f"the two runs read different inputs (input fingerprints differ; sources {', '.join(changed)}): "
                        "diff compares runs of the same inputs")
    return ia["sha256"]


def diff_runs(out_a: str, out_b: str, samples: int = SAMPLES) -> Diff:
    a, b = Run(out_a), Run(out_b)
    inputs = _check_inputs(a, b)
    fa, fb = fates(a), fates(b)
    meta = {i: (r.source, r.domain) for run in (b, a) for i, r in run.rows.items()}
    lost, gained, changed = [], [], []
    cells: dict[tuple[str, str], dict[str, int]] = {}
    tokens: dict[str, dict[str, int]] = {}
    flips: dict[str, Flip] = {}
    for doc_id in sorted(set(fa) | set(fb)):
        x, y = fa.get(doc_id, Fate(ABSENT)), fb.get(doc_id, Fate(ABSENT))
        if x == y or (x.kind == y.kind == KEPT):
            continue
        source, domain = meta.get(doc_id, ("", ""))
        if x.kind == KEPT:
            kind, stage, toks = "lost", y.stage, x.tokens
            lost.append(doc_id)
        elif y.kind == KEPT:
            kind, stage, toks = "gained", x.stage, y.tokens
            gained.append(doc_id)
        elif x.label != y.label:
            kind, stage, toks = "reason_changed", y.stage or x.stage, 0
            changed.append(doc_id)
        else:
            continue
        cell = cells.setdefault((source, stage), {"lost": 0, "gained": 0, "reason_changed": 0})
        cell[kind] += 1
        if kind != "reason_changed":
            t = tokens.setdefault(domain, {"gained": 0, "lost": 0})
            t[kind] += toks
        flips[doc_id] = Flip(doc_id, source, domain, x.label, y.label, stage, toks)
    for domain in sorted(set(a.manifest.get("tokens_by_domain", {})) | set(b.manifest.get("tokens_by_domain", {}))
                         | set(tokens)):
        t = tokens.setdefault(domain, {"gained": 0, "lost": 0})
        t["shards_a"] = a.manifest.get("tokens_by_domain", {}).get(domain, {}).get("tokens", 0)
        t["shards_b"] = b.manifest.get("tokens_by_domain", {}).get(domain, {}).get("tokens", 0)
    seed = int(b.manifest.get("seed", 0))
    picked: dict[str, list[Flip]] = {}
    for kind, ids in (("lost", lost), ("gained", gained), ("reason_changed", changed)):
        chosen = sorted(ids, key=lambda i: (stable_hash64(str(seed), "diff", i), i))[:samples]
        picked[kind] = [flips[i] for i in sorted(chosen)]
    # the text to read: from the run that kept it (its curated text), else the dropped snippet
    ex_a = a.excerpts([f.id for f in picked["lost"] + picked["reason_changed"]])
    ex_b = b.excerpts([f.id for f in picked["gained"]])
    for kind, items in picked.items():
        for f in items:
            f.excerpt = (ex_b if kind == "gained" else ex_a).get(f.id, "")
    config = config_changes(plain_config(a.config), plain_config(b.config))
    rows = [{"source": s, "stage": st, **v} for (s, st), v in sorted(cells.items())]
    kept_a = sum(1 for f in fa.values() if f.kind == KEPT)
    kept_b = sum(1 for f in fb.values() if f.kind == KEPT)
    identical = not (lost or gained or changed)
    return Diff(out_a, out_b, inputs, identical, kept_a, kept_b, config, rows, tokens, lost, gained, changed, picked)


def diff_lines(d: Diff) -> list[str]:
    lines = [f"diff {d.a} -> {d.b} (same inputs, fingerprint {d.inputs_sha256[:16]})"]
    lines.append(f"  curated documents: {d.kept_a} -> {d.kept_b}  (lost {len(d.lost)}, gained {len(d.gained)}, "
                 f"reason changed {len(d.reason_changed)})")
    if d.config:
        lines.append("  config differences:")
        for k, x, y in d.config:
            lines.append(f"    {k}: {x!r} -> {y!r}")
    else:
        lines.append("  config: identical")
    if d.by_source_stage:
        lines.append(f"  {'source':<20} {'stage':<14} {'lost':>6} {'gained':>7} {'reason changed':>15}")
        for r in d.by_source_stage:
            lines.append(f"  {r['source']:<20} {r['stage']:<14} {r['lost']:>6} {r['gained']:>7} {r['reason_changed']:>15}")
    lines.append("  tokens by domain (flipped documents; shards a -> b):")
    for domain, t in sorted(d.tokens_by_domain.items()):
        lines.append(f"    {domain:<16} +{t['gained']} -{t['lost']}   shards {t.get('shards_a', 0)} -> {t.get('shards_b', 0)}")
    for kind, items in d.samples.items():
        if items:
            lines.append(f"  samples, {kind.replace('_', ' ')}:")
            for f in items:
                text = " ".join(f.excerpt.split())
                lines.append(f"    {f.id} [{f.source}] {f.a} -> {f.b}: {text[:160]}")
    if d.identical:
        lines.append("  no document changed fate")
    return lines


def diff_html(d: Diff) -> str:
    """The diff as one self-contained page in the audit report's style (autoescaped; no script, no network)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("pilewright.pipeline.audit", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    try:
        version = metadata.version("pilewright")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return env.get_template("diff.html.j2").render(d=d, version=version)


def default_html_path(out_b: str) -> str:
    from pilewright.schemas import layout
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.join(out_b, *layout.DIFF_REPORT.split("/"))


def write_html(d: Diff, path: Optional[str] = None) -> str:
    from apache_beam.io.filesystems import FileSystems

    path = path or default_html_path(d.b)
    try:
        with FileSystems.create(path) as f:
            f.write(diff_html(d).encode("utf-8"))
    except OSError as e:
        raise RunFilesError(f"cannot write {path}: {e.strerror or e}")
    return path
