"""The pii stage never touches the network: no public-suffix list fetch, no spaCy model download."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

# Run in a fresh interpreter so nothing is already loaded or cached: every socket connection and name
# lookup raises, and tldextract's module-level extractor (the one that fetches the list) is booby-trapped.
SCRIPT = textwrap.dedent(
    """
    import socket

    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args[1:] if len(args) > 1 else args)
        raise OSError("network access attempted")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse

    import tldextract

    def no_default_extractor(*args, **kwargs):
        raise AssertionError("tldextract's default extractor (network public-suffix list) was used")

    tldextract.extract = no_default_extractor

    from pilewright.schemas.stages.pii import PIIConfig
    from pilewright.transforms.pii.scan import PiiScanner

    scanner = PiiScanner(PIIConfig(entities=["EMAIL_ADDRESS", "PHONE_NUMBER", "PERSON"]))
    red = scanner.redact_text("Write to ana.silva@banco.example.co.uk or call +44 20 7946 0321.")
    assert red.counts == {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}, red
    # a domain that is not a public suffix is not an e-mail address: the bundled list was consulted
    assert scanner.redact_text("user@host.invalidtld").counts == {}, "suffix check skipped"
    print("attempts", len(attempts))
    """
)


def test_scanning_never_opens_a_socket(tmp_path):
    env = dict(os.environ, HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "attempts 0"
    assert not (tmp_path / "cache").exists()  # nothing written to a suffix-list cache either
