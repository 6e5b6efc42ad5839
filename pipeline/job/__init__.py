"""Building and running the job: config loading, runner options, remote-runner preparation, the flow, outputs.

Files: ``config`` (loading and checking the YAML config), ``options`` (Beam pipeline options),
``remote`` (getting a job ready for remote workers: wheel, ``pkg://`` paths), ``package_fs`` (the
``pkg://`` filesystem), ``stages`` (the curation stages of a config, from ``transforms.flow``),
``build`` (the whole pipeline and ``run_job``), ``outputs`` (documents, rejected, dead letters),
``manifest`` (``manifest.json``), ``audit_counts`` (the in-job audit counted from the data),
``stage_timing`` (per-stage seconds from Beam metrics).
"""
