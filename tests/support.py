"""Helpers the tests share (conftest.py holds only fixtures): the project root, the `rai` entry point, free ports,
waiting for a server, and running `rai` as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RAI = str(Path(sys.executable).parent / "rai")


PG = dict(host="127.0.0.1", port=5432, user="postgres")  # the real server .ci/run starts (trust auth)


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc (children in process groups of their own included)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    out = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.add(pid)
    return out


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(url: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    """Until a GET of `url` succeeds; fails with the end of the server's log if it exits or never does."""
    import time

    import requests

    deadline = time.time() + timeout
    while True:
        try:
            if requests.get(url, timeout=2).ok:
                return
        except (requests.ConnectionError, requests.Timeout):  # not up yet, or too busy starting to answer
            pass
        if proc.poll() is not None or time.time() > deadline:
            raise AssertionError(f"{url} did not start serving: {log.read_text()[-2000:]}")
        time.sleep(0.5)


def run_rai(*args: str, home: Path, check: bool = False, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAI_HOME": str(home), "RAI_PROFILE": "local"}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.run([RAI, *args], capture_output=True, text=True, env=env, cwd=home.parent, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"rai {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return proc


def copy_project(root: Path) -> Path:
    """A copy of the project's catalog and configuration under `root` (point RAI_PROJECT_DIR at it to use it)."""
    import shutil

    for item in ("assets", "resources", "dagster.yaml", "workspace.yaml"):
        (shutil.copytree if (ROOT / item).is_dir() else shutil.copy)(ROOT / item, root / item)
    return root


def replay_assistant(root: Path):
    """A copy of the project whose support assistant answers from `recorded.jsonl` under `root`: (root, the system
    file, its parsed YAML, the catalog, the system)."""
    import yaml

    from rai_pipelines.catalog import load_catalog

    copy_project(root)
    system_file = root / "assets" / "systems" / "support_assistant.yaml"
    raw = yaml.safe_load(system_file.read_text())
    raw["target"] = {"kind": "replay", "path": "recorded.jsonl"}
    system_file.write_text(yaml.safe_dump(raw))
    catalog = load_catalog(root / "assets")
    return root, system_file, raw, catalog, catalog.system("support_assistant")
