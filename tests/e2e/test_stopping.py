"""Stopping is clean: the demo takes its API and workers down on SIGTERM as on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.fixtures import LiveSystem, Process, free_port, wait_until


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has stopped; only its parent's wait() is missing.
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split(")")[-1].split()[0] != "Z"


def test_sigterm_stops_the_demo_with_its_api_and_workers(live_system: LiveSystem):
    env = {
        **live_system.api.env,
        "GRIDFLOW_API_PORT": str(free_port()),
        "GRIDFLOW_WORKER_ID": "gridflow-demo-stop-test",  # its own group: takes no partition of ours
    }
    demo = Process("demo", [sys.executable, "-m", "gridflow_cli", "demo", "run", "--count", "2"], env)
    demo.start()
    assert demo.proc is not None
    try:
        wait_until(
            lambda: "demo feed finished" in demo.output(), timeout=240, what="the demo to feed 2 reports"
        )
        children = [
            int(p)
            for p in subprocess.run(
                ["pgrep", "-P", str(demo.proc.pid)], capture_output=True, text=True, check=False
            ).stdout.split()
        ]
        assert len(children) == 2, demo.output()  # the API and one worker
        started = time.monotonic()
        os.kill(demo.proc.pid, signal.SIGTERM)
        demo.proc.wait(30)
        assert time.monotonic() - started <= 25
        assert not [pid for pid in children if alive(pid)]
        assert "stopping the API and the workers" in demo.output()
    finally:
        demo.kill()
