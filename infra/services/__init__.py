"""Start, stop and inspect the real services gridflow needs on one machine: Kafka and PostgreSQL + PostGIS.

Every function is idempotent: `up` on running services only checks that they answer, `down` on stopped
ones does nothing. Tests use the per-service `start`/`stop`/`kill` to crash and restart one mid-stream.
"""

from __future__ import annotations

from types import ModuleType

from infra.services import kafka, postgres
from infra.services._process import ServiceError, ServiceStatus
from infra.settings import Settings, get_settings

# Start order: the database first, it is ready in about a second; stop order is the reverse.
SERVICES: dict[str, ModuleType] = {"postgres": postgres, "kafka": kafka}

__all__ = ["SERVICES", "ServiceError", "ServiceStatus", "down", "kafka", "postgres", "status", "up"]


def up(settings: Settings | None = None) -> dict[str, float]:
    """Start every service that is not answering; return the seconds each took (0.0: already up)."""
    s = settings or get_settings()
    return {name: service.start(s) for name, service in SERVICES.items()}


def down(settings: Settings | None = None) -> None:
    """Stop every service, the consumers' broker before the database."""
    s = settings or get_settings()
    for service in reversed(SERVICES.values()):
        service.stop(s)


def status(settings: Settings | None = None) -> list[ServiceStatus]:
    s = settings or get_settings()
    return [service.status(s) for service in SERVICES.values()]
