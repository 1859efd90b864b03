"""A plain (non-editable) wheel serves its static files, templates and migrations."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHECK = textwrap.dedent("""
    import sys, tempfile
    import collector
    from collector.app import create_app
    from collector.storage.engine import get_engine, upgrade
    from collector.resources import resource_dir
    assert collector.__file__.startswith(sys.argv[1]), collector.__file__
    for name in ("static", "templates", "migrations", "schemas"):
        assert str(resource_dir(name)).startswith(sys.argv[1]), resource_dir(name)
    tmp = tempfile.mkdtemp()
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp}/w.db", "SECRET_KEY": "x"})
    upgrade(get_engine(app))
    client = app.test_client()
    assert client.get("/static/collector.css").status_code == 200
    assert b"Log in" in client.get("/login").data
    assert client.get("/health").get_json() == {"status": "ok", "database": "ok"}
    print("wheel ok")
""")


def test_wheel_carries_and_serves_its_assets(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--disable-pip-version-check", "-w", str(tmp_path / "dist"), str(REPO)],
                   check=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for required in ("collector/static/collector.css", "collector/templates/base.html",
                     "collector/migrations/env.py",
                     "collector/migrations/versions/0001_core_schema.py",
                     "collector/schemas/start.schema.json"):
        assert required in names, required
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--disable-pip-version-check", "--target", str(target), str(wheel)],
                   check=True, timeout=300)
    out = subprocess.run([sys.executable, "-c", CHECK, str(target)], cwd=tmp_path,
                         env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin",
                              "COLLECTOR_INSTANCE_PATH": str(tmp_path / "instance")},
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert "wheel ok" in out.stdout
