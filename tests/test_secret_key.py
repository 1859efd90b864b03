"""The instance secret key: generated once, and every racing worker reads the same one."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

from collector.config import instance_secret_key

RACERS = 16


def _race(folder: Path, start: threading.Barrier, keys: list[str]) -> None:
    start.wait()
    keys.append(instance_secret_key(str(folder)))


def test_threads_racing_on_a_fresh_folder_agree_on_one_key(tmp_path: Path) -> None:
    for round_ in range(20):
        folder = tmp_path / f"instance-{round_}"
        start = threading.Barrier(RACERS)
        keys: list[str] = []

        threads = [threading.Thread(target=_race, args=(folder, start, keys))
                   for _ in range(RACERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(keys) == RACERS
        assert len(set(keys)) == 1, f"round {round_}: workers disagree: {set(keys)}"
        assert len(keys[0]) == 64
        assert (folder / "secret_key").read_text().strip() == keys[0]
        assert [p.name for p in folder.iterdir()] == ["secret_key"], "temp files left behind"


def _read_key(args: tuple[str, str]) -> str:
    folder, go = args
    while not Path(go).exists():  # start all processes at (nearly) the same moment
        pass
    return instance_secret_key(folder)


def test_processes_racing_on_a_fresh_folder_agree_on_one_key(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(8) as pool:
        for round_ in range(5):
            folder = tmp_path / f"instance-{round_}"
            go = tmp_path / f"go-{round_}"
            result = pool.map_async(_read_key, [(str(folder), str(go))] * 8, chunksize=1)
            go.touch()
            keys = result.get(60)
            assert len(set(keys)) == 1 and len(keys[0]) == 64, keys
