"""Run one Faust worker process. More processes (on this machine or others) share the partitions."""

from __future__ import annotations

import faust

from infra.logging_setup import configure_logging
from infra.settings import get_settings
from stream.metrics import serve_metrics
from stream.topics import ensure_topics


def run_worker(loglevel: str | None = None) -> None:
    """`loglevel` (the CLI's --loglevel) overrides GRIDFLOW_LOG_LEVEL for this process."""
    settings = get_settings()
    if loglevel:
        settings = settings.model_copy(update={"log_level": loglevel})
    # Before Faust starts, and Faust is told to leave it alone: its own setup would replace the handlers
    # with a colored stdout one, and neither the JSON lines nor the rotating file would survive.
    configure_logging(settings)
    import stream.agents  # noqa: F401  (registers the agents on the app)
    from stream.app import app

    ensure_topics(settings)
    serve_metrics(settings)
    faust.Worker(app, loglevel=settings.log_level, override_logging=False).execute_from_commandline()


if __name__ == "__main__":
    run_worker()
