"""The command line: ``pilewright run | plan | audit | verify | classifier``.

Files: ``main`` (argument parsing, exit codes, one-line errors), ``terminal`` (what the terminal shows:
run progress and the audit summary), ``plan`` (``pilewright plan``: corpus and compute sizing),
``classifier`` (``pilewright classifier``: training fastText quality classifiers).
"""
