"""Long-running child services (`dagster dev`, the MLflow server, Celery workers) that stop when asked.

Each child runs in a process group of its own, so whatever it spawns (dagster dev's webserver, daemon, code
server and gRPC server) is reached through the group. Stopping, the way `docker stop` or systemd does it
(SIGTERM, to this process or to its whole group), asks each group to stop as Ctrl-C would, then with SIGTERM,
then kills what is left: everything is gone within STOP_SECONDS. Dagster's code servers otherwise outlive
their parent for as long as their heartbeat timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence

STOP_SECONDS = 8.0  # under docker's and systemd's usual 10 s grace, with room to spare
_STEPS = ((signal.SIGINT, 0.55), (signal.SIGTERM, 0.3))  # signal, and the share of STOP_SECONDS to wait after it


class Services:
    """Children started in their own process groups; `run_until_stopped` waits on the main one."""

    def __init__(self) -> None:
        self.children: list[subprocess.Popen] = []

    def start(self, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        child = subprocess.Popen(list(argv), start_new_session=True, **kwargs)
        self.children.append(child)
        return child

    def run_until_stopped(self, main: subprocess.Popen) -> int:
        """Wait for `main`; on SIGTERM, SIGHUP or Ctrl-C stop every child. Returns main's exit code (0 when asked to stop)."""
        def _stop(signum, frame):
            raise KeyboardInterrupt

        signals = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
        previous = {s: signal.signal(s, _stop) for s in signals[:2]}
        try:
            return main.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            # A second signal while stopping must not end this process first: its children, in sessions of their
            # own, would be left running.
            for s in signals:
                signal.signal(s, signal.SIG_IGN)
            self.stop()
            for s, handler in previous.items():
                signal.signal(s, handler)
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def stop(self) -> None:
        deadline = time.monotonic() + STOP_SECONDS
        for sig, share in _STEPS:
            for child in self.children:
                _signal_group(child, sig)
            _wait_groups(self.children, time.monotonic() + STOP_SECONDS * share)
        for child in self.children:
            _signal_group(child, signal.SIGKILL)
        _wait_groups(self.children, deadline)
        for child in self.children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass


def _signal_group(child: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(child.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone


def _group_alive(child: subprocess.Popen) -> bool:
    child.poll()  # reap the leader, or its zombie keeps the group "alive"
    try:
        os.killpg(child.pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _wait_groups(children: list[subprocess.Popen], until: float) -> None:
    while time.monotonic() < until and any(_group_alive(c) for c in children):
        time.sleep(0.1)
