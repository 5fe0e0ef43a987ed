"""Wrong passwords slow a guesser down: after 5 for one name from one address in 5 minutes,
that name waits (from that address) until the oldest of them is 5 minutes old.

Kept in the dashboard process's memory: a restart forgets it, which is acceptable for a
throttle (every attempt is in the audit log anyway). A throttled attempt is refused before
its password is checked, so a flood of guesses also stops costing scrypt time.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

MAX_FAILURES = 5
WINDOW_S = 300.0
MAX_KEYS = 10_000
"""Above this many remembered (name, address) pairs, the stale ones are forgotten."""


class LoginThrottle:
    def __init__(self, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, name: str, address: str) -> float:
        """Seconds before this name may try again from this address (0: now)."""
        now = self.clock()
        with self._lock:
            times = self._recent(_key(name, address), now)
            if len(times) < self.max_failures:
                return 0.0
            return max(0.0, times[0] + self.window_s - now)

    def failed(self, name: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            key = _key(name, address)
            self._recent(key, now)
            self._failures.setdefault(key, deque(maxlen=self.max_failures)).append(now)
            if len(self._failures) > MAX_KEYS:
                for stale in [k for k in self._failures if not self._recent(k, now)]:
                    del self._failures[stale]

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            self._failures.pop(_key(name, address), None)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            self._failures.pop(key, None)
        return times


def _key(name: str, address: str) -> tuple[str, str]:
    return name.strip().lower()[:64], address
