"""Driving the API: wrk (a C load generator: Python clients top out near 400 requests/s here) with the Lua
scripts in benchmarks/wrk, its output read back, and the CPU wrk itself used — the proof that the load
generator was not the limit."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

WRK_DIR = Path(__file__).resolve().parent / "wrk"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


@dataclass
class WrkResult:
    requests: int
    seconds: float
    non_2xx: int
    errors: int  # connect, read, write, timeout
    latency_ms: dict[str, float] = field(default_factory=dict)  # "50%", "99%"...
    wrk_cpu_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def wrk_cores(self) -> float:
        """wrk's own CPU use, in cores (1.0: one core busy all the time)."""
        return self.wrk_cpu_s / self.seconds if self.seconds else 0.0


def wrk(
    url: str,
    *,
    script: str | None = None,
    seconds: int,
    connections: int,
    threads: int = 1,
    env: dict[str, str] | None = None,
) -> WrkResult:
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if script:
        args += ["-s", str(WRK_DIR / script)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [*args, url], capture_output=True, text=True, env={**os.environ, **(env or {})}, check=True
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = parse_wrk(done.stdout)
    result.wrk_cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def parse_wrk(out: str) -> WrkResult:
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    if total is None:
        raise ValueError(f"unexpected wrk output:\n{out}")
    seconds = float(total.group(2)) * _UNITS[total.group(3)] / 1e3
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    latency = {
        f"{m.group(1)}%": float(m.group(2)) * _UNITS[m.group(3)]
        for m in re.finditer(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
    }
    return WrkResult(
        requests=int(total.group(1)),
        seconds=seconds,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(g) for g in errors.groups()) if errors else 0,
        latency_ms=latency,
    )


def report_env(codes: list[str], **extra: str) -> dict[str, str]:
    """What the Lua scripts read: the category codes, and an observed_at intake accepts (an hour ago)."""
    observed = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
    return {"BENCH_CATEGORIES": ",".join(codes), "BENCH_OBSERVED": observed, **extra}


def wait_api(url: str, timeout: float = 60.0) -> None:
    """Until the API answers and has loaded the category list (a report is then checked as in service)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if (
                httpx.get(f"{url}/api/v1/categories", timeout=2).status_code < 500
            ):  # 401 once signing in is on
                time.sleep(1.0)  # the category codes load in the background at start
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"the API at {url} did not answer within {timeout:.0f} s")
