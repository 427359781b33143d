"""Where the Kafka node keeps its files, and the configuration it is started with (written on every start)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from infra.settings import Settings, get_settings


@dataclass(frozen=True)
class KafkaPaths:
    root: Path
    libs: Path
    config: Path
    data: Path
    logs: Path
    server_properties: Path
    log4j_properties: Path
    cluster_id_file: Path
    pid_file: Path
    lock_file: Path
    server_log: Path
    console_log: Path


def paths(s: Settings | None = None) -> KafkaPaths:
    root = (s or get_settings()).state_dir.resolve() / "kafka"
    config, logs = root / "config", root / "logs"
    return KafkaPaths(
        root=root,
        libs=root / "libs",
        config=config,
        data=root / "data",
        logs=logs,
        server_properties=config / "server.properties",
        log4j_properties=config / "log4j.properties",
        cluster_id_file=root / "cluster-id",
        pid_file=root / "kafka.pid",
        lock_file=root / "service.lock",
        server_log=logs / "server.log",
        console_log=logs / "kafka.out",
    )


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
