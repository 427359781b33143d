"""How long to wait before the next try: exponential backoff with jitter, honouring Retry-After."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    base_s: float = 2.0
    factor: float = 2.0
    # A worker walks back into coverage within minutes; waiting longer would feel like a lost report.
    cap_s: float = 300.0
    # Jitter spreads the retries of many phones that lost the network together (a tunnel, a dead cell).
    jitter: float = 0.2
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after `failures` consecutive failures (1 = the first one)."""
        exponent = max(failures - 1, 0)
        raw = min(self.cap_s, self.base_s * self.factor**exponent)
        spread = raw * self.jitter
        delay = raw + self.rng.uniform(-spread, spread)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return max(0.0, delay)
