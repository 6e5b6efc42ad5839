"""Reports how a sample run's outputs compare with tests/golden/sample_outputs.json (recorded with the lock),
all but manifest.json (which records the installed versions). A report, not a gate: other versions of
pyarrow write other Parquet footers (its version is in them) and may order or encode bytes differently, so
outputs may differ byte for byte while `audit --verify` and the tests still pass. Exit 0 always."""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden" / "sample_outputs.json"

if __name__ == "__main__":
    out = Path(sys.argv[1])
    want = {k: v for k, v in json.loads(GOLDEN.read_text()).items() if k != "manifest.json"}
    got = {}
    for rel in sorted({k.split("/", 1)[0] for k in want}):
        for path in sorted((out / rel).iterdir()):
            got[str(path.relative_to(out))] = hashlib.sha256(path.read_bytes()).hexdigest()
    if got != want:
        diff = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
        print(f"sample outputs differ from {GOLDEN.name} (recorded with the lock): {', '.join(diff)}")
        sys.exit(0)
    print(f"sample outputs match {GOLDEN.name} ({len(got)} files; manifest.json not compared)")
