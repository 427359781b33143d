"""Run one Faust worker process. More processes (on this machine or others) share the partitions."""

from __future__ import annotations

import faust

from infra.settings import get_settings
from stream.topics import ensure_topics


def run_worker(loglevel: str = "info") -> None:
    import stream.agents  # noqa: F401  (registers the agents on the app)
    from stream.app import app

    ensure_topics(get_settings())
    faust.Worker(app, loglevel=loglevel).execute_from_commandline()


if __name__ == "__main__":
    run_worker()
