"""``pilewright plan``: tokens, raw text, pipeline worker-hours and GPU days for a model size.

Pure functions compute every figure (tested against a published sizing table); ``run`` only prints.
Training compute is the standard dense-transformer estimate 6 x params x tokens FLOPs; days divide it by
GPUs x peak FLOPS x MFU (model FLOPs utilization). Peaks are the vendors' dense (no sparsity) bf16/fp16
tensor-core figures.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

from pilewright.schemas.errors import UserError
from pilewright.schemas import layout
from pilewright.pipeline.audit.summary import load_run_files
from pilewright.pipeline.job.stages import READ_STAGE, TOKENS_STAGE, target_shares

CHINCHILLA_TOKENS_PER_PARAM = 20.0
DEFAULT_DOMAINS = {"finance": 0.51, "general": 0.49}  # BloombergGPT's FinPile mix
DEFAULT_MFU = 0.4
DEFAULT_GPUS = 64
DEFAULT_GPU = "a100"
SECONDS_PER_DAY = 86_400
# dense bf16 (fp16 for V100) tensor-core peaks, FLOP/s, per the vendors' datasheets
GPU_PEAK_FLOPS = {
    "a100": 312e12,
    "h100": 989e12,
    "v100": 125e12,
}
# the published table this planner is checked against: params -> tokens at 20 tokens/param, and the
# training time it quotes for 6.6B parameters on 64 A100s ("just under 7 days")
PUBLISHED_TOKENS = ((2.6e9, 52e9), (6.6e9, 132e9), (13e9, 260e9), (30e9, 600e9), (65e9, 1.3e12))
PUBLISHED_DAYS_6_6B_64_A100 = 7.0
# the published sizing table (Thomson Reuters on SageMaker HyperPod; P4d = 8 x A100): days to train each
# size at its Chinchilla point, per cluster size. Rows: (P4d instances, GPUs, days per PUBLISHED_TOKENS column)
PUBLISHED_DAYS = (
    (8, 64, (1, 6.6, 24, 125.4, 918.4)),
    (16, 128, (0.5, 3.3, 12, 62.7, 459.2)),
    (32, 256, (0.2, 1.7, 6, 31.3, 229.6)),
    (55, 440, (0.1, 1, 3.5, 17.9, 164)),
    (64, 512, (0.1, 0.9, 3, 15.7, 114.8)),
)


# stages whose work does not grow with the corpus (training reads a fixed-size sample)
FIXED_COST_STAGES = frozenset({"train_tokenizer"})


class PlanError(UserError, ValueError):
    """A bad planner argument or an unreadable --from-run folder; the message says which and why."""


def tokens_for(params: float, tokens_per_param: float = CHINCHILLA_TOKENS_PER_PARAM) -> int:
    """Training tokens for a model: ``params x tokens_per_param``, rounded to a whole token."""
    return int(round(params * tokens_per_param))


def split_by_domain(tokens: int, shares: Mapping[str, float]) -> dict[str, int]:
    """Tokens per domain; rounding leftovers go to the largest shares so the parts sum to ``tokens``."""
    raw = {d: tokens * s for d, s in shares.items()}
    out = {d: int(math.floor(v)) for d, v in raw.items()}
    left = tokens - sum(out.values())
    for d in sorted(raw, key=lambda d: (-(raw[d] - out[d]), d))[:left]:
        out[d] += 1
    return dict(sorted(out.items()))


def training_flops(params: float, tokens: float) -> float:
    """Dense transformer training compute: 6 FLOPs per parameter per token (forward + backward)."""
    return 6.0 * params * tokens


def training_days(flops: float, gpus: int, peak_flops: float, mfu: float) -> float:
    return flops / (gpus * peak_flops * mfu) / SECONDS_PER_DAY


def parse_domains(text: str) -> dict[str, float]:
    """``finance=0.51,general=0.49`` -> {"finance": 0.51, "general": 0.49}; shares must sum to 1."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise PlanError(f"--domains: expected name=share pairs like finance=0.51,general=0.49 (got {part!r})")
        try:
            share = float(value)
        except ValueError:
            raise PlanError(f"--domains: share of {name.strip()!r} is not a number (got {value!r})") from None
        if not 0 <= share <= 1:
            raise PlanError(f"--domains: share of {name.strip()!r} must be between 0 and 1 (got {share:g})")
        out[name.strip()] = share
    if not out:
        raise PlanError("--domains: give at least one name=share pair")
    total = sum(out.values())
    if abs(total - 1.0) > 1e-6:
        raise PlanError(f"--domains: shares must sum to 1 (got {total:g})")
    return out


@dataclass(frozen=True)
class RunYield:
    """What a finished run tells about yield and cost."""

    out_dir: str
    raw_chars: Mapping[str, int]  # domain -> characters the sources held (read: kept + rejected)
    curated_tokens: Mapping[str, int]  # domain -> tokens of the curated documents (before any mix)
    stage_seconds: Mapping[str, float]  # stage -> worker-seconds; empty when the run did not record them
    run_seconds: float
    domain_shares: Optional[Mapping[str, float]] = None  # the shares the run's mix aimed at
    notes: Sequence[str] = field(default_factory=tuple)


def facts_from_audit(audit: dict, out_dir: str = "", manifest: Optional[dict] = None) -> RunYield:
    """Yield and cost from a run's audit.json (and its manifest, for the mix it used). Pure."""
    stages = {s["name"]: s for s in audit.get("stages", [])}
    if READ_STAGE not in stages or TOKENS_STAGE not in stages:
        raise PlanError(f"--from-run {out_dir}: audit.json has no {READ_STAGE}/{TOKENS_STAGE} stages; "
                        "was the run complete?")
    raw: dict[str, int] = {}
    for src in stages[READ_STAGE]["by_source"].values():
        raw[src["domain"]] = raw.get(src["domain"], 0) + src["kept_chars"] + src.get("rejected_chars", 0)
    curated: dict[str, int] = {}
    for src in stages[TOKENS_STAGE]["by_source"].values():
        curated[src["domain"]] = curated.get(src["domain"], 0) + src["kept_tokens"]
    run = audit.get("run", {})
    notes = []
    stage_seconds = dict(run.get("stage_seconds") or {})
    if not stage_seconds:
        notes.append("this run did not record per-stage worker time; only the whole run's wall time is known")
    shares = target_shares((manifest or {}).get("config", {})) if manifest else None
    return RunYield(out_dir, dict(sorted(raw.items())), dict(sorted(curated.items())), stage_seconds,
                    float(run.get("seconds", 0.0)), shares, tuple(notes))


def read_run(out_dir: str) -> RunYield:
    if not os.path.isfile(os.path.join(out_dir, *layout.AUDIT.split("/"))):
        raise PlanError(f"--from-run {out_dir}: no {layout.AUDIT} there (pass the OUT folder of a finished `pilewright run`)")
    # the audit's own reader: validated against the schemas, with run.json's facts merged in as "run"
    audit, manifest = load_run_files(out_dir)
    return facts_from_audit(audit, out_dir, manifest or None)


@dataclass(frozen=True)
class DomainNeed:
    domain: str
    share: float
    tokens: int
    tokens_per_char: Optional[float]  # None: the run had no text of this domain
    raw_chars: Optional[float]  # raw text for the tokens used once each
    raw_chars_max_epochs: Optional[float]  # the least raw text, repeating everything max_epochs times


def raw_needed(tokens_by_domain: Mapping[str, int], shares: Mapping[str, float], facts: RunYield,
               max_epochs: int = 4) -> list[DomainNeed]:
    """Raw text each domain needs at the yield observed in ``facts`` (tokens after curation per raw char)."""
    out = []
    for d, tokens in tokens_by_domain.items():
        chars, got = facts.raw_chars.get(d, 0), facts.curated_tokens.get(d, 0)
        tpc = got / chars if chars and got else None
        out.append(DomainNeed(d, shares[d], tokens, tpc, tokens / tpc if tpc else None,
                              tokens / tpc / max_epochs if tpc else None))
    return out


def worker_hours(facts: RunYield, raw_chars_needed: float) -> dict[str, float]:
    """Worker-hours per stage to process ``raw_chars_needed``, scaled linearly from the run's measured time.

    Every stage's work grows with the text it sees, and the share of raw text reaching each stage is the
    run's own, so one factor (raw needed / raw seen) scales them all; tokenizer training works on a fixed-size
    sample and is not scaled. Falls back to the whole run's wall time (as ``all stages``) when per-stage
    times were not recorded.
    """
    seen = sum(facts.raw_chars.values())
    if not seen:
        return {}
    scale = raw_chars_needed / seen
    per_stage = facts.stage_seconds or {"all stages (wall time)": facts.run_seconds}
    return {stage: secs * (1.0 if stage in FIXED_COST_STAGES else scale) / 3600.0 for stage, secs in per_stage.items()}


def published_rows(mfu: float = DEFAULT_MFU) -> list[dict]:
    """This planner next to the published table: tokens for each size, days for 6.6B on 64 A100s."""
    rows = []
    for params, published in PUBLISHED_TOKENS:
        tokens = tokens_for(params)
        days = training_days(training_flops(params, tokens), 64, GPU_PEAK_FLOPS["a100"], mfu)
        rows.append({"params": params, "tokens": tokens, "published_tokens": int(published),
                     "days_64_a100": days,
                     "published_days": PUBLISHED_DAYS_6_6B_64_A100 if params == 6.6e9 else None})
    return rows


def implied_mfu(params: float, tokens: float, gpus: int, days: float, peak_flops: float = GPU_PEAK_FLOPS["a100"]) -> float:
    """The utilisation a published training time implies at 6ND FLOPs: FLOPs / (GPUs x peak x seconds)."""
    return training_flops(params, tokens) / (gpus * peak_flops * days * SECONDS_PER_DAY)


def published_table_rows(mfu: float = DEFAULT_MFU) -> list[dict]:
    """Every cell of the published table beside this planner's days at ``mfu`` and the MFU the cell implies.

    The published days are read as rounded to 0.1 day (a 0.1-day cell carries up to +-50%), so the small
    models' implied MFU is uncertain; ``mfu_low``/``mfu_high`` bound it by that rounding.
    """
    half = 0.05
    rows = []
    for p4d, gpus, days_row in PUBLISHED_DAYS:
        for (params, tokens), days in zip(PUBLISHED_TOKENS, days_row):
            rows.append({
                "p4d": p4d, "gpus": gpus, "params": params, "tokens": tokens, "published_days": days,
                "days": training_days(training_flops(params, tokens), gpus, GPU_PEAK_FLOPS["a100"], mfu),
                "mfu": implied_mfu(params, tokens, gpus, days),
                "mfu_low": implied_mfu(params, tokens, gpus, days + half),
                "mfu_high": implied_mfu(params, tokens, gpus, days - half) if days > half else float("inf"),
            })
    return rows


def _h(n: float) -> str:
    """Human figure: 1.3T, 132B, 45.2M."""
    for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= div:
            v = n / div
            return f"{v:.1f}{unit}" if v < 100 and v != int(v) else f"{v:.0f}{unit}"
    return f"{n:.0f}"


def plan_lines(params: float, tokens_per_param: float, shares: Mapping[str, float], gpus: int, gpu: str,
               mfu: float, facts: Optional[RunYield] = None, max_epochs: int = 4,
               extra_tokens: Optional[int] = None) -> list[str]:
    """The planner's report, one line per list item. ``extra_tokens``: continued pretraining of a base model
    of ``params`` parameters on that many more tokens (instead of params x tokens_per_param from scratch)."""
    if extra_tokens is not None:
        tokens = int(extra_tokens)
        head = (f"continued pretraining: base model of {_h(params)} parameters + {tokens:,} extra tokens "
                f"({_h(tokens)}, {tokens / params:.2f} per parameter)")
    else:
        tokens = tokens_for(params, tokens_per_param)
        head = f"model: {_h(params)} parameters x {tokens_per_param:g} tokens/parameter = {tokens:,} tokens ({_h(tokens)})"
    by_domain = split_by_domain(tokens, shares)
    lines = [head, "", f"{'domain':<12} {'share':>6} {'tokens':>20}"]
    for d, t in by_domain.items():
        lines.append(f"{d:<12} {shares[d]:>6.3f} {t:>20,}")
    if facts is not None:
        needs = raw_needed(by_domain, shares, facts, max_epochs)
        lines += ["", f"raw text needed, at the yield of {facts.out_dir} (curated tokens per raw character, after "
                  "every filter and dedup; characters of text, about bytes for English):",
                  f"{'domain':<12} {'tokens/char':>11} {'raw, used once':>15} {f'raw, {max_epochs} epochs':>15} {'raw in run':>11}"]
        for n in needs:
            if n.tokens_per_char is None:
                lines.append(f"{n.domain:<12} {'-':>11} {'no yield: the run had no text of this domain':>43}")
                continue
            lines.append(f"{n.domain:<12} {n.tokens_per_char:>11.4f} {_h(n.raw_chars):>15} "
                         f"{_h(n.raw_chars_max_epochs):>15} {_h(facts.raw_chars.get(n.domain, 0)):>11}")
        raw_total = sum(n.raw_chars for n in needs if n.raw_chars)
        hours = worker_hours(facts, raw_total)
        if hours:
            lines += ["", f"pipeline worker-hours for {_h(raw_total)} raw characters, scaled from the run's measured "
                      f"time ({_h(sum(facts.raw_chars.values()))} chars):",
                      f"{'stage':<24} {'worker-s in run':>15} {'worker-hours':>14}"]
            secs = facts.stage_seconds or {"all stages (wall time)": facts.run_seconds}
            for stage, h in hours.items():
                lines.append(f"{stage:<24} {secs[stage]:>15.1f} {h:>14,.1f}")
            lines.append(f"{'total':<24} {sum(secs.values()):>15.1f} {sum(hours.values()):>14,.1f}")
        lines += [f"note: {n}" for n in facts.notes]
    peak = GPU_PEAK_FLOPS[gpu]
    flops = training_flops(params, tokens)
    days = training_days(flops, gpus, peak, mfu)
    lines += ["", f"training compute: 6 x {params:.3g} params x {tokens:.3g} tokens = {flops:.3g} FLOPs",
              f"on {gpus} x {gpu.upper()} ({peak / 1e12:.0f} TFLOPS dense bf16 peak each) at MFU {mfu:g}: "
              f"{days:,.2f} days ({days * 24 * gpus:,.0f} GPU-hours, {days * gpus:,.1f} GPU-days)"]
    return lines


def published_lines(mfu: float) -> list[str]:
    """Every published cell beside this planner's estimate and the MFU the cell implies, then the spread of
    implied MFU per model size: the cells do not share one utilisation, and this shows by how much."""
    lines = ["published sizing table (SageMaker HyperPod, P4d = 8 x A100) vs this planner "
             f"(6ND FLOPs, A100 {GPU_PEAK_FLOPS['a100'] / 1e12:.0f} TFLOPS dense bf16 peak, MFU {mfu:g}):",
             f"{'P4d':>4} {'GPUs':>5} {'params':>7} {'tokens':>7} {'published d':>12} {'this d':>9} "
             f"{'implied MFU':>12}  {'(rounding range)':>17}"]
    rows = published_table_rows(mfu)
    for r in rows:
        high = "inf" if r["mfu_high"] == float("inf") else f"{r['mfu_high']:.2f}"
        lines.append(f"{r['p4d']:>4} {r['gpus']:>5} {_h(r['params']):>7} {_h(r['tokens']):>7} "
                     f"{r['published_days']:>12g} {r['days']:>9.2f} {r['mfu']:>12.2f}  "
                     f"{r['mfu_low']:.2f}-{high:<5}".rstrip())
    lines += ["", "implied MFU by model size (min - max over the five cluster sizes):"]
    for params, tokens in PUBLISHED_TOKENS:
        ms = [r["mfu"] for r in rows if r["params"] == params]
        lines.append(f"{_h(params):>7}: {min(ms):.2f} - {max(ms):.2f}")
    lines.append("(rounding range: the MFU if the published day count was rounded to 0.1 day; loose for the "
                 "0.1-0.5 day cells)")
    return lines


def continued_shares(replay: float, domain: str, replay_domain: str) -> dict[str, float]:
    """{domain: 1 - replay, replay_domain: replay}: the continued-pretraining split of the extra tokens."""
    if not 0 <= replay < 1:
        raise PlanError(f"--replay must be in [0, 1) (got {replay:g})")
    if domain == replay_domain:
        raise PlanError("--domain-name and --replay-domain must differ")
    return {domain: 1.0 - replay, replay_domain: replay} if replay else {domain: 1.0}


def add_parser(subparsers) -> argparse.ArgumentParser:
    plan = subparsers.add_parser(
        "plan",
        help="tokens, raw text, worker-hours and GPU days for a model size",
        description="Chinchilla-style sizing: tokens = params x tokens-per-param, split by domain; with "
                    "--from-run, the raw text and pipeline worker-hours that need, from a previous run's yield "
                    "and measured time; and 6 x params x tokens training FLOPs as days on the given GPUs.",
    )
    plan.add_argument("--params", type=float, help="model parameters, e.g. 7e9")
    plan.add_argument("--tokens-per-param", type=float, default=CHINCHILLA_TOKENS_PER_PARAM,
                      help="training tokens per parameter (default: %(default)g, Chinchilla)")
    plan.add_argument("--domains", help="domain shares, e.g. finance=0.51,general=0.49 (default: the run's "
                      "mix, else finance=0.51,general=0.49)")
    plan.add_argument("--from-run", metavar="OUT", help="output folder of a finished `pilewright run`")
    plan.add_argument("--max-epochs", type=int, default=4, help="repeats allowed when sizing raw text (default: 4)")
    plan.add_argument("--gpus", type=int, default=DEFAULT_GPUS, help="number of GPUs (default: %(default)s)")
    plan.add_argument("--gpu", choices=sorted(GPU_PEAK_FLOPS), default=DEFAULT_GPU, help="GPU type (default: a100)")
    plan.add_argument("--mfu", type=float, default=DEFAULT_MFU,
                      help="model FLOPs utilization, 0-1 (default: %(default)g)")
    plan.add_argument("--extra-tokens", type=float,
                      help="continued pretraining: tokens to train the base model (--params) on, e.g. 50e9")
    plan.add_argument("--replay", type=float, help="continued pretraining: share of the extra tokens that is "
                      "general replay text (e.g. 0.25); the rest is the domain's")
    plan.add_argument("--domain-name", default="domain", help="label of the domain part (default: %(default)s); "
                      "use the run's domain name with --from-run to get its yield")
    plan.add_argument("--replay-domain", default="general", help="label of the replay part (default: %(default)s)")
    plan.add_argument("--published", action="store_true",
                      help="print this planner next to the published sizing table and exit")
    plan.set_defaults(func=run)
    return plan


def run(args: argparse.Namespace) -> int:
    def fail(msg: str) -> int:
        print(f"pilewright: error: {msg}", file=sys.stderr)
        return 2

    if not 0 < args.mfu <= 1:
        return fail(f"--mfu must be in (0, 1] (got {args.mfu:g})")
    if args.published:
        print("\n".join(published_lines(args.mfu)))
        return 0
    if args.params is None or args.params <= 0:
        return fail("--params is required and must be positive, e.g. --params 7e9")
    if args.gpus < 1 or args.tokens_per_param <= 0 or args.max_epochs < 1:
        return fail("--gpus, --tokens-per-param and --max-epochs must be positive")
    try:
        facts = read_run(args.from_run) if args.from_run else None
        if args.extra_tokens is not None and args.extra_tokens <= 0:
            raise PlanError("--extra-tokens must be positive, e.g. --extra-tokens 50e9")
        if args.replay is not None and args.domains:
            raise PlanError("give --replay (domain/replay split) or --domains, not both")
        if args.replay is not None:
            shares = continued_shares(args.replay, args.domain_name, args.replay_domain)
        elif args.domains:
            shares = parse_domains(args.domains)
        else:
            shares = dict(facts.domain_shares) if facts is not None and facts.domain_shares else dict(DEFAULT_DOMAINS)
    except UserError as e:  # PlanError, and the audit reader's SummaryError for a malformed run file
        return fail(str(e))
    print("\n".join(plan_lines(args.params, args.tokens_per_param, shares, args.gpus, args.gpu, args.mfu,
                               facts, args.max_epochs,
                               int(args.extra_tokens) if args.extra_tokens is not None else None)))
    return 0
