"""The dedup config: defaults, threshold -> bands x rows, validation errors that say what to fix."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from pilewright.schemas.config import StagesConfig
from pilewright.schemas.stages.dedup import DedupConfig, MinHashConfig, lsh_shape_for_threshold
from pilewright.transforms.dedup.minhash import band_match_probability


def test_defaults_are_the_fineweb_shape():
    cfg = DedupConfig()
    assert (cfg.minhash.ngram, cfg.minhash.bands, cfg.minhash.rows, cfg.minhash.num_perm) == (5, 14, 8, 112)
    assert cfg.exact and cfg.scope == "global" and cfg.keep_by is None


def test_threshold_picks_bands_and_rows_with_datasketch_optimum():
    cfg = MinHashConfig(threshold=0.8, num_perm=128)
    assert (cfg.bands, cfg.rows) == lsh_shape_for_threshold(0.8, 128)
    assert cfg.bands * cfg.rows <= 128
    # the chosen curve separates the threshold: likely above it, unlikely well below it
    assert band_match_probability(0.9, cfg.bands, cfg.rows) > 0.9
    assert band_match_probability(0.5, cfg.bands, cfg.rows) < 0.1


def test_threshold_and_explicit_bands_conflict():
    with pytest.raises(ValidationError, match="either `threshold` or `bands`"):
        MinHashConfig(threshold=0.7, bands=10)


def test_num_perm_must_cover_bands_times_rows():
    with pytest.raises(ValidationError, match="num_perm"):
        MinHashConfig(bands=20, rows=8, num_perm=100)
    assert MinHashConfig(bands=4, rows=4, num_perm=64).num_perm == 64


def test_unknown_keys_and_bad_scope_are_errors():
    with pytest.raises(ValidationError):
        DedupConfig(scop="global")
    with pytest.raises(ValidationError):
        DedupConfig(scope="per_planet")


def test_stages_config_accepts_a_dedup_block():
    stages = StagesConfig.model_validate({"dedup": {"minhash": {"ngram": 3, "unit": "char"}, "keep_by": "hq"}})
    assert stages.dedup.minhash.unit == "char" and stages.dedup.keep_by == "hq"
    assert StagesConfig.model_validate({"dedup": {"enabled": False}}).dedup.enabled is False
