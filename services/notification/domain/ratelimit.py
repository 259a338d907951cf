"""Token bucket for a provider's per-second limit; pure arithmetic on a clock the caller passes."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up. `reserve` never refuses: it books a token
    and says how long to wait for it, so callers queue in arrival order instead of spinning."""

    rate: float
    burst: float
    _tokens: float = field(init=False)
    _at: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self._tokens = self.burst

    def reserve(self, now: float, n: float = 1.0) -> float:
        """Book n tokens at `now` (seconds, monotonic); returns the seconds to wait before using them."""
        if self._at is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        self._tokens -= n
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


def under_daily_limit(sent_today: int, limit: int | None) -> bool:
    """Providers cap messages per number per day (Aliyun: 50 notifications; Tencent: configurable)."""
    return limit is None or sent_today < limit
