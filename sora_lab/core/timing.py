"""Wall-clock seconds per named stage, so a pipeline can say where its time goes (`make bench`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class StageTimer:
    """Times `with timer.stage(name):` blocks; the clock for `total` starts when the timer is made."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._started = time.perf_counter()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Add the block's seconds to `name`; a stage timed in pieces (once per frame, say) adds up.

        A block that raises is not counted: its run is being thrown away anyway.
        """
        started = time.perf_counter()
        yield
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

    def finish(self) -> dict[str, float]:
        """Each stage's seconds and the `total` since the timer was made, rounded to 0.1 ms."""
        seconds = self.seconds | {"total": time.perf_counter() - self._started}
        return {name: round(value, 4) for name, value in seconds.items()}
