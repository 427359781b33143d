"""Test harness: the real Kafka and PostGIS (started by infra.services; a service that cannot start fails
the run, nothing is skipped), with a fresh database and unique topic names per run.

The run's settings go into the environment before anything reads them, so this process and every
subprocess (API, workers) agree.
"""

from __future__ import annotations

import os
import uuid

RUN_ID = uuid.uuid4().hex[:8]
os.environ.setdefault("GRIDFLOW_TOPIC_PREFIX", f"test-{RUN_ID}.")
os.environ.setdefault("GRIDFLOW_PG_DATABASE", f"gridflow_test_{RUN_ID}")
os.environ.setdefault("GRIDFLOW_WORKER_ID", "gridflow-test-router")
os.environ.setdefault("GRIDFLOW_TOPIC_PARTITIONS", "4")

pytest_plugins = ["tests.fixtures"]
