"""The audit after the run: summary, HTML report, ``--verify``, and the progress channel below them.

Files: ``summary`` (the audit's numbers as sections), ``report`` (the HTML report, ``templates/``),
``verify`` (checking OUT against its manifest), ``profile`` (curated-text profiles and dropped
samples), ``progress`` (the channel workers report progress to, and its view).
"""
