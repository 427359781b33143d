"""Apache Kafka 3.9.1, one KRaft node (broker + controller) on loopback, from the jars bootstrap.sh fetched.

Durability: one broker keeps one copy and leaves fsync to the OS, so a killed broker process loses no
acknowledged message (the page cache survives it), but a power cut can. Good enough for a dev/test node.
"""

from __future__ import annotations

import shlex
import shutil
import signal
import subprocess
import time
import warnings
from pathlib import Path

from infra.services._process import (
    ServiceError,
    ServiceStatus,
    cmdline,
    find_process,
    locked,
    pid_alive,
    port_in_use,
    read_pid,
    send_signal,
    spawn_detached,
    tail,
    wait_for_exit,
)
from infra.services.kafka_config import KafkaPaths, log4j_properties, paths, server_properties
from infra.settings import Settings, get_settings

NAME = "kafka"
JVM_FLAGS = [
    "-XX:+UseG1GC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
]


def pid(s: Settings | None = None) -> int | None:
    """Pid of our broker if it is alive; a recycled pid running something else does not count."""
    p = paths(s)
    needles = ("kafka.Kafka", str(p.server_properties))
    found = read_pid(p.pid_file)
    if found is not None and pid_alive(found) and all(needle in cmdline(found) for needle in needles):
        return found
    return find_process(*needles)  # our broker, whose pid file was lost


def is_answering(s: Settings | None = None, *, timeout: float = 3.0) -> bool:
    """A real metadata request: the broker is up only if it lists itself as a cluster member."""
    s = s or get_settings()
    with warnings.catch_warnings():
        # kafka-python 3.x warns about itself on import.
        warnings.simplefilter("ignore", DeprecationWarning)
        from kafka import KafkaAdminClient

    limit = int(timeout * 1000)
    # kafka-python 3.x bounds its eager bootstrap with bootstrap_timeout_ms; 2.x has no such option.
    bounded = (
        {"bootstrap_timeout_ms": limit} if "bootstrap_timeout_ms" in KafkaAdminClient.DEFAULT_CONFIG else {}
    )
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=s.kafka_bootstrap,
            client_id="gridflow-services-probe",
            request_timeout_ms=limit,
            **bounded,
        )
    except Exception:  # any failure to reach the broker means "not answering", whatever the client version
        return False
    try:
        return bool(admin.describe_cluster().get("brokers"))
    except Exception:
        return False
    finally:
        admin.close()


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise ServiceError(NAME, "no `java` on PATH: run infra/bootstrap.sh")
    return java


def _classpath(p: KafkaPaths) -> str:
    if not any(p.libs.glob("kafka_2.13-*.jar")):
        raise ServiceError(NAME, f"no Kafka jars in {p.libs}: run infra/bootstrap.sh")
    return f"{p.libs}/*"  # expanded by java itself, not by a shell


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _prepare(s: Settings, p: KafkaPaths) -> None:
    """Write the configuration and format the storage once, keeping the cluster id across restarts."""
    for folder in (p.config, p.data, p.logs):
        folder.mkdir(parents=True, exist_ok=True)
    _write_if_changed(p.server_properties, server_properties(s, p))
    _write_if_changed(p.log4j_properties, log4j_properties(p))
    if (p.data / "meta.properties").exists():
        return
    base = [_java(), f"-Dlog4j.configuration=file:{p.log4j_properties}", "-cp", _classpath(p)]
    if not p.cluster_id_file.exists():
        made = subprocess.run(
            [*base, "kafka.tools.StorageTool", "random-uuid"], capture_output=True, text=True, timeout=120
        )
        if made.returncode != 0:
            raise ServiceError(NAME, "StorageTool random-uuid failed", log_tail=made.stderr + made.stdout)
        p.cluster_id_file.write_text(made.stdout.strip().splitlines()[-1] + "\n")
    cluster_id = p.cluster_id_file.read_text().strip()
    fmt = ["format", "-t", cluster_id, "-c", str(p.server_properties), "--ignore-formatted"]
    formatted = subprocess.run(
        [*base, "kafka.tools.StorageTool", *fmt],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if formatted.returncode != 0:
        raise ServiceError(
            NAME, "formatting the storage failed", log_tail=formatted.stderr + formatted.stdout
        )


def log_tail(s: Settings | None = None, lines: int = 40) -> str:
    p = paths(s)
    return tail(p.console_log, 15) + "\n" + tail(p.server_log, lines, skip_indented=True)


def start(s: Settings | None = None, *, timeout: float = 120.0) -> float:
    """Start the broker unless it already answers; return the seconds it took to answer (0.0 if it did)."""
    s = s or get_settings()
    p = paths(s)
    with locked(p.lock_file):
        started = time.monotonic()
        running = pid(s)
        if running is None:
            running = _launch(s, p)
        elif is_answering(s, timeout=2.0):
            return 0.0
        deadline = started + timeout
        while time.monotonic() < deadline:
            if not pid_alive(running):
                p.pid_file.unlink(missing_ok=True)
                raise ServiceError(NAME, "the broker exited while starting", log_tail=log_tail(s))
            if is_answering(s, timeout=2.0):
                return time.monotonic() - started
            time.sleep(0.25)
        # A broker that never answered is stopped, so that the next start begins from a clean slate.
        _kill(p, running)
        raise ServiceError(
            NAME, f"no answer to a metadata request within {timeout:.0f} s", log_tail=log_tail(s)
        )


def _launch(s: Settings, p: KafkaPaths) -> int:
    for port in (s.kafka_port, s.kafka_controller_port):
        if port_in_use(s.kafka_host, port):
            raise ServiceError(NAME, f"port {s.kafka_host}:{port} is taken by a process that is not ours")
    _prepare(s, p)
    argv = [
        _java(),
        *shlex.split(s.kafka_heap),
        *JVM_FLAGS,
        f"-Dlog4j.configuration=file:{p.log4j_properties}",
    ]
    argv += [f"-Dkafka.logs.dir={p.logs}", "-cp", _classpath(p), "kafka.Kafka", str(p.server_properties)]
    with p.console_log.open("a") as console:
        console.write(f"--- started by gridflow at {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n")
    running = spawn_detached(argv, log_path=p.console_log, cwd=p.root)
    p.pid_file.write_text(f"{running}\n")
    return running


def stop(s: Settings | None = None, *, timeout: float = 60.0) -> None:
    """Controlled shutdown (SIGTERM), then SIGKILL if the broker is still there after timeout."""
    p = paths(s)
    with locked(p.lock_file):
        running = pid(s)
        if running is not None:
            send_signal(running, signal.SIGTERM)
            if not wait_for_exit(running, timeout):
                _kill(p, running)
        p.pid_file.unlink(missing_ok=True)


def kill(s: Settings | None = None) -> None:
    """kill -9 the broker, as a crash would; the next start recovers its logs."""
    p = paths(s)
    with locked(p.lock_file):
        running = pid(s)
        if running is not None:
            _kill(p, running)
        p.pid_file.unlink(missing_ok=True)


def _kill(p: KafkaPaths, running: int) -> None:
    send_signal(running, signal.SIGKILL)
    if not wait_for_exit(running, 10):
        raise ServiceError(NAME, f"pid {running} survived SIGKILL")
    p.pid_file.unlink(missing_ok=True)


def status(s: Settings | None = None) -> ServiceStatus:
    s = s or get_settings()
    running = pid(s)
    answering = running is not None and is_answering(s, timeout=2.0)
    detail = f"bootstrap {s.kafka_bootstrap}, controller :{s.kafka_controller_port}"
    return ServiceStatus(
        NAME, running is not None, running, s.kafka_port, answering, paths(s).server_log, detail
    )
