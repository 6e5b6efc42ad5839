"""Building the whole pipeline from a config, runner options, the CLI and the audit report."""
