"""Kill the app's submit path (a real separate process) at random moments, restart it, repeat.

Shared by the kill test against the fake API and the one against the real running system.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from field_app.core.clock import SystemClock
from field_app.core.db import Database
from field_app.core.outbox import Outbox, OutboxEntry
from field_app.headless import PASSWORD_ENV

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class KillRun:
    kills: int = 0
    runs: int = 0
    announced: set[str] = field(default_factory=set)  # ids the process said it had saved
    entries: list[OutboxEntry] = field(default_factory=list)  # the phone's outbox at the end


def submit_with_kills(
    *,
    server: str,
    data: Path,
    cycles: int,
    seed: int,
    worker: str,
    password: str,
    photo: Path | None = None,
    photo_every: int = 0,
    max_wait_s: float = 0.15,
    max_saved: int = 3,
    max_runs: int = 400,
) -> KillRun:
    rng = random.Random(seed)
    result = KillRun()
    command = [sys.executable, "-m", "field_app.headless", "--data", str(data), "--server", server]
    command += ["--worker", worker, "--cycles", str(cycles), "--label", f"断电测试 {worker}"]
    if photo is not None:
        command += ["--photo", str(photo), "--photo-every", str(photo_every)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), PASSWORD_ENV: password}
    while result.runs < max_runs:
        result.runs += 1
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        lines = [process.stdout.readline()]  # "ready N": from here on the process is in the submit path
        # Every run dies at a random moment unless it finishes first: after a few more saved reports (none
        # to max_saved) and then a random part of the next cycle, so that kills land in every step of a
        # cycle, and how many there are does not hang on how fast the machine is.
        wanted = rng.randint(0, max_saved)
        while wanted and (line := process.stdout.readline()):
            lines.append(line)
            wanted -= line.startswith("saved ")
        try:
            process.wait(timeout=rng.uniform(0.0, max_wait_s))
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)  # no cleanup, no atexit: as a phone killing the app
            process.wait()
            result.kills += 1
        lines.append(process.stdout.read())
        process.stdout.close()
        for line in "".join(lines).splitlines():
            if line.startswith("saved "):
                result.announced.add(line.split()[1])
        if process.returncode == 0:
            break
    db = Database(data / "gridflow-field.sqlite3")
    result.entries = Outbox(db, SystemClock()).entries()
    db.close()
    return result
