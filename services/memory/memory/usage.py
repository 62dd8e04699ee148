"""A turn's usage and the Lua that counts it: shared by profile_store.py (usage on its own) and
store.py (an answer's usage, counted in the same step that stores the answer)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

DAY_TOKENS_KEPT_SECONDS = 3 * 86400


def user_prefix(user: str) -> str:
    """The start of every key of the user's (their hash tag: one cluster slot for all of them)."""
    return f"rc:{{{user}}}"


# Adds one turn to the user's usage counters. It is Lua so that store.py's answer script can count
# an answer's usage in the same atomic step that stores the answer (and only if it does).
# keys: usage day hash, usage days, the day's tokens   args: model, prompt tokens, completion
# tokens, their sum, cost in USD or '' (unknown), day, day as YYYYMMDD, seconds the day's tokens are kept
COUNT_USAGE = r"""
local function count_usage(keys, args)
  local usage, model = keys[1], args[1]
  redis.call('HINCRBY', usage, model .. '\tprompt_tokens', args[2])
  redis.call('HINCRBY', usage, model .. '\tcompletion_tokens', args[3])
  redis.call('HINCRBY', usage, model .. '\tturns', 1)
  if args[5] ~= '' then redis.call('HINCRBYFLOAT', usage, model .. '\tcost_usd', args[5]) end
  redis.call('ZADD', keys[2], args[7], args[6])
  redis.call('INCRBY', keys[3], args[4])
  redis.call('EXPIRE', keys[3], args[8])
end
"""


@dataclass(frozen=True)
class TurnUsage:
    """One turn's tokens and their cost (None: unknown), as counted in the user's usage."""
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None = None

    def script_input(self, user: str) -> tuple[list[str], list]:
        """KEYS and ARGV of count_usage (COUNT_USAGE), counted on today's UTC day."""
        day, base = utc_day(), user_prefix(user)
        keys = [f"{base}:usage:{day}", f"{base}:usagedays", tokens_today_key(user, day)]
        args = [self.model, self.prompt_tokens, self.completion_tokens, self.prompt_tokens + self.completion_tokens,
                "" if self.cost_usd is None else self.cost_usd, day, int(day.replace("-", "")),
                DAY_TOKENS_KEPT_SECONDS]
        return keys, args


def tokens_today_key(user: str, day: str | None = None) -> str:
    """The counter of the user's tokens of a UTC day (today by default): what the daily quota counts."""
    return f"{user_prefix(user)}:tokens:{day or utc_day()}"


def utc_day(at: datetime | None = None) -> str:
    """The UTC day usage and quotas are counted by, YYYY-MM-DD."""
    return (at or datetime.now(timezone.utc)).strftime("%Y-%m-%d")
