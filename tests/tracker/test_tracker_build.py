"""static/tracker.js is the esbuild bundle of tracker/src (``npm run build --prefix tracker``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRACKER = ROOT / "tracker"


def test_built_tracker_is_the_bundle_of_its_modules() -> None:
    node = shutil.which("node")
    assert node, "node is not installed: the tracker build cannot be checked"
    assert (TRACKER / "node_modules" / "esbuild").is_dir(), (
        "esbuild is not installed: run `npm ci --prefix tracker`")
    done = subprocess.run([node, str(TRACKER / "build.mjs"), "--check"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr or done.stdout
    built = (ROOT / "static" / "tracker.js").read_text(encoding="utf-8")
    assert built.startswith("/*! tracker.js "), "the licence/version line is kept"

