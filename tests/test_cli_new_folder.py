"""Every command in a fresh folder (no instance folder, no database yet): it migrates, or
it says in one line to run `collector db upgrade`; never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from collector.cli.main import main

NEEDS_UPGRADE = "collector db upgrade"

COMMANDS = [
    ["site", "list"],
    ["stats", "--json"],
    ["export", "xapi"],
    ["export", "caliper"],
    ["export", "v3"],
    ["catalog", "export"],
    ["report", "course", "--course", "c1", "--json"],
    ["report", "items", "--course", "c1", "--json"],
    ["report", "learners", "--course", "c1", "--json"],
    ["forward", "xapi"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_bare_command_in_a_new_folder_never_crashes(
        args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLLECTOR_LRS_URL", "http://127.0.0.1:9/xAPI")
    result = CliRunner().invoke(main, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.output)
    assert "Traceback" not in result.output
    if result.exit_code != 0:
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and NEEDS_UPGRADE in lines[0], result.output


def test_a_command_that_writes_migrates_first(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    added = runner.invoke(main, ["site", "add", "s1", "--origin", "https://a.example"])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(main, ["site", "list"])
    assert listed.exit_code == 0 and "s1" in listed.output


def test_an_unreachable_database_is_one_line(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLLECTOR_DATABASE_URL",
                       "postgresql+psycopg://nobody:secret@127.0.0.1:9/none")
    result = CliRunner().invoke(main, ["site", "list"])
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot reach the database" in lines[0], result.output
    assert "secret" not in result.output
