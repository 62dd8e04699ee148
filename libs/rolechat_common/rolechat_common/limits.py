"""Per-user and per-IP limits, shared by every instance through Redis.

The policy comes from the environment and is the same wherever it is read (the auth-proxy enforces
request rates and concurrent streams; memory enforces daily token quotas and reports what is
left):

  RATE_LIMIT_PER_MINUTE            requests per user per minute (default 120)
  MAX_CONCURRENT_STREAMS           answers a user may stream at once (default 3)
  DAILY_TOKEN_QUOTA                prompt + answer tokens per user per UTC day (default 200000)
  ANONYMOUS_RATE_LIMIT_PER_MINUTE  requests per client IP per minute on routes without sign-in (default 30)
  LIMITS_BY_GROUP                  JSON: Cognito group -> any of rate_limit_per_minute,
                                   concurrent_streams, daily_tokens; null means unlimited.
                                   Default: {"admins": {all three null}}.

Each value is a positive integer or "unlimited". A user in several groups gets, for each limit,
the most generous of their groups' values; a user in no listed group gets the defaults.

Counters are fixed one-minute windows (`INCR` + `EXPIRE` in one script, so a crash never leaves a
counter without its expiry) and, for streams, a sorted set of leases that expire on their own if
the process holding one dies.
"""
from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .config import ConfigError, Env

UNLIMITED = None
LIMIT_NAMES = ("rate_limit_per_minute", "concurrent_streams", "daily_tokens")
DEFAULT_GROUPS = {"admins": {name: UNLIMITED for name in LIMIT_NAMES}}
WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Allowance:
    """One user's limits; None means unlimited."""
    rate_limit_per_minute: int | None = 120
    concurrent_streams: int | None = 3
    daily_tokens: int | None = 200_000

    def to_json(self) -> dict:
        return {name: getattr(self, name) for name in LIMIT_NAMES}


@dataclass(frozen=True)
class LimitPolicy:
    default: Allowance = Allowance()
    groups: Mapping[str, Mapping[str, int | None]] = field(default_factory=lambda: DEFAULT_GROUPS)
    anonymous_rate_limit_per_minute: int | None = 30

    def for_groups(self, groups: Iterable[str]) -> Allowance:
        listed = [self.groups[g] for g in groups if g in self.groups]
        if not listed:
            return self.default
        values = {}
        for name in LIMIT_NAMES:
            candidates = [group.get(name, getattr(self.default, name)) for group in listed]
            values[name] = UNLIMITED if UNLIMITED in candidates else max(candidates)
        return Allowance(**values)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "LimitPolicy":
        env = Env(environ)
        default = Allowance(
            rate_limit_per_minute=_limit(env, "RATE_LIMIT_PER_MINUTE", 120),
            concurrent_streams=_limit(env, "MAX_CONCURRENT_STREAMS", 3),
            daily_tokens=_limit(env, "DAILY_TOKEN_QUOTA", 200_000),
        )
        return cls(default=default, groups=_groups(env.optional("LIMITS_BY_GROUP")),
                   anonymous_rate_limit_per_minute=_limit(env, "ANONYMOUS_RATE_LIMIT_PER_MINUTE", 30))


def _limit(env: Env, name: str, default: int) -> int | None:
    raw = (env.optional(name) or "").strip()
    if raw.lower() == "unlimited":
        return UNLIMITED
    return env.int(name, default, minimum=1)


def _groups(raw: str | None) -> dict:
    if raw is None:
        return DEFAULT_GROUPS
    try:
        data = json.loads(raw)
    except ValueError:
        raise ConfigError("LIMITS_BY_GROUP must be a JSON object") from None
    if not isinstance(data, dict):
        raise ConfigError("LIMITS_BY_GROUP must be a JSON object of group -> limits")
    for group, limits in data.items():
        if not isinstance(limits, dict) or not set(limits) <= set(LIMIT_NAMES):
            raise ConfigError(f"LIMITS_BY_GROUP[{group!r}] may only set {', '.join(LIMIT_NAMES)}")
        for name, value in limits.items():
            if value is not UNLIMITED and not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
                raise ConfigError(f"LIMITS_BY_GROUP[{group!r}].{name} must be a positive integer or null")
    return data


def seconds_until_utc_midnight(now: datetime | None = None) -> int:
    now = now or datetime.now(timezone.utc)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((midnight - now).total_seconds() + 0.999))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0      # seconds, when not allowed
    remaining: int | None = None


# Counting a request: `hit(counter, window seconds)` -> {count, milliseconds left in the window}.
_HIT_FUNCTION = """
local function hit(key, window)
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, window) end
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then redis.call('EXPIRE', key, window); ttl = tonumber(window) * 1000 end
  return count, ttl
end
"""

# Holding a stream slot: `acquire(lease set, now ms, lease ms, limit, member)` -> 1, 0 or 0, ms
# until the earliest lease ends.
_ACQUIRE_FUNCTION = """
local function acquire(key, now, lease_ms, limit, member)
  now = tonumber(now)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= tonumber(limit) then
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    return 0, tonumber(first[2]) - now
  end
  redis.call('ZADD', key, now + tonumber(lease_ms), member)
  redis.call('PEXPIRE', key, lease_ms)
  return 1, 0
end
"""

_HIT = _HIT_FUNCTION + "return {hit(KEYS[1], ARGV[1])}"
_ACQUIRE = _ACQUIRE_FUNCTION + "return {acquire(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])}"
# A stream's request: counted, and if within the rate, a slot held, in one round trip. KEYS: the
# counter, the lease set; ARGV: window, rate limit, then acquire's. Returns {count, ttl, held, wait}
# (held -1: not tried, the rate refused the request).
_HIT_AND_ACQUIRE = _HIT_FUNCTION + _ACQUIRE_FUNCTION + """
local count, ttl = hit(KEYS[1], ARGV[1])
if count > tonumber(ARGV[2]) then return {count, ttl, -1, 0} end
local held, wait = acquire(KEYS[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
return {count, ttl, held, wait}
"""


class LimitsUnavailable(Exception):
    """Redis could not be asked; the caller decides whether to go on without the limit."""


@contextlib.contextmanager
def _redis_failures():
    """Any failure of Redis (a plain client's or a cluster client's) as LimitsUnavailable."""
    from redis.exceptions import RedisClusterException, RedisError

    try:
        yield
    except (RedisError, RedisClusterException) as exc:
        raise LimitsUnavailable(type(exc).__name__) from None


class Limiter:
    """Counters in Redis. `subject` is a user id or "ip:<address>"; it is the key's hash tag.

    Give it a client, or `connect` (a function making one): then the client is made on first use,
    so a service can start while Redis is away (a cluster client connects when it is made). Every
    Redis failure, of either kind of client, comes out as LimitsUnavailable.
    """

    RECONNECT_AFTER_SECONDS = 5.0

    def __init__(self, client=None, *, connect=None, prefix: str = "rc"):
        self._client, self._connect = client, connect
        self.prefix = prefix
        self._scripts = None
        self._failed_at = float("-inf")

    @property
    def client(self):
        if self._client is None:
            if time.monotonic() - self._failed_at < self.RECONNECT_AFTER_SECONDS:
                raise LimitsUnavailable("not connected")  # no new attempt on every request while it is away
            try:
                self._client = self._connect()
            except Exception:
                self._failed_at = time.monotonic()
                raise
        return self._client

    def _script(self, name: str):
        if self._scripts is None:
            self._scripts = {"hit": self.client.register_script(_HIT),
                             "acquire": self.client.register_script(_ACQUIRE),
                             "hit_and_acquire": self.client.register_script(_HIT_AND_ACQUIRE)}
        return self._scripts[name]

    def _run(self, name: str, keys: list[str], args: list):
        with _redis_failures():
            return self._script(name)(keys=keys, args=args)

    def hit(self, subject: str, limit: int | None, window: int = WINDOW_SECONDS) -> Decision:
        """Count one request against `limit` per `window` seconds."""
        if limit is UNLIMITED:
            return Decision(True)
        count, ttl_ms = self._run("hit", [self._counter(subject, window)], [window])
        return _rate(limit, count, ttl_ms)

    def acquire_stream(self, subject: str, limit: int | None, lease_seconds: int) -> tuple[Decision, str]:
        """Hold one of `limit` stream slots for at most `lease_seconds`; returns the lease id."""
        if limit is UNLIMITED:
            return Decision(True), ""
        lease = secrets.token_hex(8)
        held, wait_ms = self._run("acquire", [self._streams(subject)], [int(time.time() * 1000), lease_seconds * 1000,
                                                                        limit, lease])
        return _slot(held, wait_ms, lease)

    def hit_and_acquire_stream(self, subject: str, rate_limit: int | None, stream_limit: int | None,
                               lease_seconds: int, window: int = WINDOW_SECONDS) -> tuple[Decision, Decision, str]:
        """`hit`, then `acquire_stream` if the rate allowed the request, in one round trip to Redis
        (a streamed answer's request waits for neither twice): (the rate's decision, the stream
        slot's, the lease). A request the rate refuses holds no slot."""
        if rate_limit is UNLIMITED:
            return (Decision(True), *self.acquire_stream(subject, stream_limit, lease_seconds))
        if stream_limit is UNLIMITED:
            return self.hit(subject, rate_limit, window), Decision(True), ""
        lease = secrets.token_hex(8)
        count, ttl_ms, held, wait_ms = self._run(
            "hit_and_acquire", [self._counter(subject, window), self._streams(subject)],
            [window, rate_limit, int(time.time() * 1000), lease_seconds * 1000, stream_limit, lease])
        rate = _rate(rate_limit, count, ttl_ms)
        if not rate.allowed:
            return rate, Decision(True), ""
        return (rate, *_slot(held, wait_ms, lease))

    def release_stream(self, subject: str, lease: str) -> None:
        if lease:
            with _redis_failures():
                self.client.zrem(self._streams(subject), lease)

    def _counter(self, subject: str, window: int) -> str:
        return f"{self.prefix}:{{{subject}}}:rate:{window}:{int(time.time()) // window}"

    def _streams(self, subject: str) -> str:
        return f"{self.prefix}:{{{subject}}}:streams"


def _rate(limit: int, count, ttl_ms) -> Decision:
    if int(count) > limit:
        return Decision(False, retry_after=max(1, -(-int(ttl_ms) // 1000)), remaining=0)
    return Decision(True, remaining=limit - int(count))


def _slot(held, wait_ms, lease: str) -> tuple[Decision, str]:
    if not int(held):
        # The earliest lease ends at the latest then; most streams end much sooner.
        return Decision(False, retry_after=max(1, min(5, -(-int(wait_ms) // 1000))), remaining=0), ""
    return Decision(True), lease
