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
from dataclasses import dataclass
from pathlib import Path

from infra.services._process import (
    ServiceError,
    ServiceStatus,
    cmdline,
    pid_alive,
    port_in_use,
    read_pid,
    send_signal,
    spawn_detached,
    tail,
    wait_for_exit,
)
from infra.settings import Settings, get_settings

NAME = "kafka"
JVM_FLAGS = [
    "-XX:+UseG1GC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
]


@dataclass(frozen=True)
class KafkaPaths:
    root: Path

    @property
    def libs(self) -> Path:
        return self.root / "libs"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def server_properties(self) -> Path:
        return self.config / "server.properties"

    @property
    def log4j_properties(self) -> Path:
        return self.config / "log4j.properties"

    @property
    def cluster_id_file(self) -> Path:
        return self.root / "cluster-id"

    @property
    def pid_file(self) -> Path:
        return self.root / "kafka.pid"

    @property
    def server_log(self) -> Path:
        return self.logs / "server.log"

    @property
    def console_log(self) -> Path:
        return self.logs / "kafka.out"


def paths(s: Settings | None = None) -> KafkaPaths:
    return KafkaPaths((s or get_settings()).state_dir / "kafka")


def server_properties(s: Settings, p: KafkaPaths) -> str:
    lines = {
        "process.roles": "broker,controller",
        "node.id": "1",
        # Static quorum: the storage is formatted without --standalone to match.
        "controller.quorum.voters": f"1@{s.kafka_host}:{s.kafka_controller_port}",
        "listeners": f"PLAINTEXT://{s.kafka_host}:{s.kafka_port},CONTROLLER://{s.kafka_host}:{s.kafka_controller_port}",
        "advertised.listeners": f"PLAINTEXT://{s.kafka_host}:{s.kafka_port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "log.dirs": str(p.data),
        # One node: every internal topic can only have one replica.
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        # 50 offset partitions (the default) make the first consumer-group join slow on 2 cores.
        "offsets.topic.num.partitions": "10",
        "num.partitions": str(s.topic_partitions),
        # Tests join groups one after another; waiting 3 s for more members only slows them.
        "group.initial.rebalance.delay.ms": "0",
        # After a kill -9 the restarted controller still holds the dead broker's registration and
        # refuses the new one until that session expires (9 s by default). Broker and controller share
        # one JVM here, so no network can delay a heartbeat: a short session costs nothing.
        "broker.session.timeout.ms": "3000",
        "broker.heartbeat.interval.ms": "1000",
        "num.network.threads": "2",
        "num.io.threads": "2",
        "num.recovery.threads.per.data.dir": "1",
        # The app creates its topics explicitly; auto-create stays on for ad-hoc tools.
        "auto.create.topics.enable": "true",
        "log.retention.hours": "168",
    }
    body = "\n".join(f"{key}={value}" for key, value in lines.items())
    return f"# Written by infra/services/kafka.py on every start; edit there, not here.\n{body}\n"


def log4j_properties(p: KafkaPaths) -> str:
    return "\n".join(
        [
            "# Written by infra/services/kafka.py on every start.",
            "log4j.rootLogger=INFO, file",
            "log4j.appender.file=org.apache.log4j.RollingFileAppender",
            f"log4j.appender.file.File={p.server_log}",
            "log4j.appender.file.MaxFileSize=20MB",
            "log4j.appender.file.MaxBackupIndex=3",
            "log4j.appender.file.layout=org.apache.log4j.PatternLayout",
            "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n",
            # Per-request and state-change chatter drowns the lines that explain a failed start.
            "log4j.logger.kafka.request.logger=WARN",
            "log4j.logger.state.change.logger=WARN",
            "log4j.logger.org.apache.kafka.storage.internals.log=WARN",
            "",
        ]
    )


def pid(s: Settings | None = None) -> int | None:
    """Pid of our broker if it is alive; a recycled pid running something else does not count."""
    p = paths(s)
    found = read_pid(p.pid_file)
    if found is None or not pid_alive(found):
        return None
    args = cmdline(found)
    return found if "kafka.Kafka" in args and str(p.server_properties) in args else None


def is_answering(s: Settings | None = None, *, timeout: float = 3.0) -> bool:
    """A real metadata request: the broker is up only if it lists itself as a cluster member."""
    s = s or get_settings()
    with warnings.catch_warnings():
        # kafka-python 3.x warns about itself on import.
        warnings.simplefilter("ignore", DeprecationWarning)
        from kafka import KafkaAdminClient

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=s.kafka_bootstrap,
            client_id="gridflow-services-probe",
            bootstrap_timeout_ms=int(timeout * 1000),
            request_timeout_ms=int(timeout * 1000),
        )
    except Exception:
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
    return tail(p.console_log, 15) + "\n" + tail(p.server_log, lines)


def start(s: Settings | None = None, *, timeout: float = 120.0) -> float:
    """Start the broker unless it already answers; return the seconds it took to answer (0.0 if it did)."""
    s = s or get_settings()
    p = paths(s)
    started = time.monotonic()
    running = pid(s)
    if running is None:
        for port in (s.kafka_port, s.kafka_controller_port):
            if port_in_use(s.kafka_host, port):
                raise ServiceError(NAME, f"port {s.kafka_host}:{port} is taken by a process that is not ours")
        _prepare(s, p)
        heap = shlex.split(s.kafka_heap)
        argv = [_java(), *heap, *JVM_FLAGS, f"-Dlog4j.configuration=file:{p.log4j_properties}"]
        argv += [f"-Dkafka.logs.dir={p.logs}", "-cp", _classpath(p), "kafka.Kafka", str(p.server_properties)]
        running = spawn_detached(argv, log_path=p.console_log, cwd=p.root)
        p.pid_file.write_text(f"{running}\n")
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
    kill(s)
    raise ServiceError(NAME, f"no answer to a metadata request within {timeout:.0f} s", log_tail=log_tail(s))


def stop(s: Settings | None = None, *, timeout: float = 60.0) -> None:
    """Controlled shutdown (SIGTERM), then SIGKILL if the broker is still there after timeout."""
    p = paths(s)
    running = pid(s)
    if running is not None:
        send_signal(running, signal.SIGTERM)
        if not wait_for_exit(running, timeout):
            send_signal(running, signal.SIGKILL)
            wait_for_exit(running, 10)
    p.pid_file.unlink(missing_ok=True)


def kill(s: Settings | None = None) -> None:
    """kill -9 the broker, as a crash would; the next start recovers its logs."""
    p = paths(s)
    running = pid(s)
    if running is not None:
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
