"""A report page opened in headless Chromium (Debian's ``chromium``), as a reader's browser would: it must
render, log nothing to the console and request nothing beyond its own file."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")


def assert_page_renders_offline(page: Path, work: Path, height: int) -> None:
    """Screenshots ``page`` at 1280 x ``height`` with every host unresolvable; asserts a clean exit, no
    console line, a non-blank picture and no request but ``file:`` ones (from the browser's net log)."""
    shot, netlog = work / f"{page.stem}.png", work / "net.json"
    cmd = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", f"--user-data-dir={work / 'profile'}",
        # nothing may leave the machine, whatever the browser itself tries
        "--host-resolver-rules=MAP * ~NOTFOUND", f"--log-net-log={netlog}",
        "--enable-logging=stderr", "--v=0", f"--window-size=1280,{height}", f"--screenshot={shot}", page.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln]
    assert console == [], console
    assert shot.exists() and shot.stat().st_size > 20_000
    import matplotlib.image

    pixels = matplotlib.image.imread(str(shot))
    assert pixels.shape[1] == 1280 and pixels[..., :3].std() > 0.05  # not a blank page
    # requests the page made (browser-internal ones have no origin): none but the file itself
    events = json.loads(netlog.read_text())["events"] if netlog.exists() else []
    page_requests = {e["params"]["url"] for e in events
                     if "url" in e.get("params", {}) and e["params"].get("initiator") not in (None, "not an origin")}
    assert {u for u in page_requests if not u.startswith("file:")} == set()
