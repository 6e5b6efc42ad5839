"""URL block/allow lists (stage ``url_filter``).

Files: ``lists`` (parsing list files, matching a URL by registered domain and substring: pure),
``stage`` (reads the lists once per worker; the stage transform).
``explain`` says how its decisions read in ``pilewright explain`` (``EXPLAIN``).
"""
from pilewright.transforms.url_filter.explain import EXPLAIN
from pilewright.transforms.url_filter.stage import UrlFilter

def build_stage(config, context):
    """The stage of the flow (``transforms.flow``) for this config block."""
    from pilewright.transforms.url_filter.stage import UrlFilter

    return UrlFilter(config)


__all__ = ["EXPLAIN", "build_stage", "UrlFilter"]
