"""Long-running commands stop the way `docker stop` and systemd stop services: SIGTERM to the whole process group,
and everything they started is gone within 10 s."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.support import RAI, alive, descendants, free_port, wait_until_serving


def test_rai_ui_and_everything_it_started_exit_within_10s_of_sigterm_to_its_group(tmp_path):
    port, mlflow_port = free_port(), free_port()
    log = tmp_path / "ui.log"
    env = {**os.environ, "RAI_HOME": str(tmp_path / "state"), "RAI_PROFILE": "local"}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.Popen([RAI, "ui", "--port", str(port), "--mlflow-port", str(mlflow_port)], cwd=tmp_path, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/server_info", proc, log)
        wait_until_serving(f"http://127.0.0.1:{mlflow_port}/health", proc, log)
        started = descendants(proc.pid)
        commands = {p: Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:80] for p in started}
        assert any("dagster_webserver" in c for c in commands.values()), commands
        assert any("_daemon" in c for c in commands.values()), commands
        os.killpg(proc.pid, signal.SIGTERM)  # what docker stop / systemd send
        t = time.monotonic()
        proc.wait(timeout=10)
        while alive(started) and time.monotonic() - t < 10:
            time.sleep(0.2)
        left = {p: commands[p] for p in alive(started)}
        assert not left, f"still running {time.monotonic() - t:.0f} s after SIGTERM: {left}"
    finally:
        for pid in alive(descendants(proc.pid)) | {proc.pid}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
