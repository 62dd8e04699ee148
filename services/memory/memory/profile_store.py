"""Roles (with their own pins), registered fine-tuned models and usage counters, in Redis.

Keys (the user's own namespace, as in store.py, except the list of models published to everyone):
  rc:{<user>}:roles              hash: role id -> role JSON
  rc:{<user>}:r:<rid>:pins       hash: pin id -> pin JSON
  rc:{<user>}:r:<rid>:pinorder   list: pin ids, oldest first
  rc:{<user>}:models             hash: model id -> registration JSON
  rc:shared:models               hash: model id -> registration JSON (published by an admin)
  rc:{<user>}:usage:<YYYY-MM-DD> hash: "<model>\t<counter>" -> number (prompt_tokens,
                                  completion_tokens, turns, cost_usd)
  rc:{<user>}:usagedays          sorted set: day -> day as a number (YYYYMMDD)
  rc:{<user>}:tokens:<YYYY-MM-DD> string: that day's prompt + answer tokens (the daily quota's count)
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from .store import LimitReached, NotFound, PinTooLong, _now, append_pin, new_id

ROLE_FIELDS = ("name", "instructions", "model", "temperature", "max_answer_tokens")
USAGE_COUNTERS = ("prompt_tokens", "completion_tokens", "turns")
SHARED_MODELS = "rc:shared:models"
DAY_TOKENS_KEPT_SECONDS = 3 * 86400

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
        day, base = utc_day(), _base(user)
        keys = [f"{base}:usage:{day}", f"{base}:usagedays", tokens_today_key(user, day)]
        args = [self.model, self.prompt_tokens, self.completion_tokens, self.prompt_tokens + self.completion_tokens,
                "" if self.cost_usd is None else self.cost_usd, day, int(day.replace("-", "")),
                DAY_TOKENS_KEPT_SECONDS]
        return keys, args


def _base(user: str) -> str:
    return f"rc:{{{user}}}"


def tokens_today_key(user: str, day: str | None = None) -> str:
    """The counter of the user's tokens of a UTC day (today by default): what the daily quota counts."""
    return f"{_base(user)}:tokens:{day or utc_day()}"


class ProfileStore:
    def __init__(self, client):
        self.redis = client
        self._count_usage = client.register_script(COUNT_USAGE + "count_usage(KEYS, ARGV)")

    # --- roles -----------------------------------------------------------------------------------
    def list_roles(self, user: str) -> list[dict]:
        roles = [json.loads(v) for v in self.redis.hgetall(f"{_base(user)}:roles").values()]
        return sorted(roles, key=lambda r: r.get("created_at", ""))

    def get_role(self, user: str, rid: str) -> dict:
        raw = self.redis.hget(f"{_base(user)}:roles", rid)
        if not raw:
            raise NotFound
        return json.loads(raw)

    def create_role(self, user: str, fields: dict, max_roles: int) -> dict:
        key = f"{_base(user)}:roles"
        if self.redis.hlen(key) >= max_roles:
            raise LimitReached(f"You can keep at most {max_roles} roles; delete one first.")
        _, iso = _now()
        role = {"id": new_id("r_"), "name": "", "instructions": "", "model": "", "temperature": None,
                "max_answer_tokens": None, "created_at": iso, "updated_at": iso}
        role.update({k: v for k, v in fields.items() if k in ROLE_FIELDS})
        self.redis.hset(key, role["id"], json.dumps(role, ensure_ascii=False))
        return role

    def update_role(self, user: str, rid: str, fields: dict) -> dict:
        role = self.get_role(user, rid)
        _, iso = _now()
        role.update({k: v for k, v in fields.items() if k in ROLE_FIELDS})
        role["updated_at"] = iso
        self.redis.hset(f"{_base(user)}:roles", rid, json.dumps(role, ensure_ascii=False))
        return role

    def delete_role(self, user: str, rid: str) -> None:
        base = _base(user)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(f"{base}:roles", rid)
            pipe.delete(f"{base}:r:{rid}:pins", f"{base}:r:{rid}:pinorder")
            deleted, _ = pipe.execute()
        if not deleted:
            raise NotFound

    def list_role_pins(self, user: str, rid: str) -> list[dict]:
        base = _base(user)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hexists(f"{base}:roles", rid)
            pipe.lrange(f"{base}:r:{rid}:pinorder", 0, -1)
            pipe.hgetall(f"{base}:r:{rid}:pins")
            exists, ids, pins = pipe.execute()
        if not exists:
            raise NotFound
        return [json.loads(pins[p]) for p in ids if p in pins]

    def add_role_pin(self, user: str, rid: str, text: str, max_pins: int, max_chars: int) -> dict:
        if len(text) > max_chars:
            raise PinTooLong(f"A pin holds at most {max_chars} characters; pin something shorter.")
        base = _base(user)
        return append_pin(self.redis, lambda pipe: pipe.hexists(f"{base}:roles", rid), f"{base}:r:{rid}:pins",
                          f"{base}:r:{rid}:pinorder", text, {}, max_pins=max_pins, holder="A role")

    def delete_role_pin(self, user: str, rid: str, pin_id: str) -> None:
        base = _base(user)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hexists(f"{base}:roles", rid)
            pipe.hdel(f"{base}:r:{rid}:pins", pin_id)
            pipe.lrem(f"{base}:r:{rid}:pinorder", 0, pin_id)
            exists, deleted, _ = pipe.execute()
        if not exists or not deleted:
            raise NotFound

    # --- registered models ---------------------------------------------------------------------
    def list_models(self, user: str) -> list[dict]:
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(f"{_base(user)}:models")
            pipe.hgetall(SHARED_MODELS)
            own, shared = pipe.execute()
        models = {k: {**json.loads(v), "shared": False, "owner": True} for k, v in own.items()}
        for k, v in shared.items():
            models[k] = {**json.loads(v), "shared": True, "owner": k in own}
        return sorted(models.values(), key=lambda m: m["id"])

    def register_model(self, user: str, model_id: str, label: str, max_models: int) -> dict:
        key = f"{_base(user)}:models"
        if not self.redis.hexists(key, model_id) and self.redis.hlen(key) >= max_models:
            raise LimitReached(f"You can register at most {max_models} models; remove one first.")
        _, iso = _now()
        record = {"id": model_id, "label": label or model_id, "created_at": iso}
        self.redis.hset(key, model_id, json.dumps(record, ensure_ascii=False))
        return {**record, "shared": bool(self.redis.hexists(SHARED_MODELS, model_id)), "owner": True}

    def visible_model(self, user: str, model_id: str) -> dict:
        """The registration of a model this user may use (own or shared), else NotFound."""
        for model in self.list_models(user):
            if model["id"] == model_id:
                return model
        raise NotFound

    def share_model(self, user: str, model_id: str, shared: bool) -> dict:
        model = self.visible_model(user, model_id)
        record = {"id": model["id"], "label": model["label"], "created_at": model["created_at"]}
        if shared:
            self.redis.hset(SHARED_MODELS, model_id, json.dumps(record, ensure_ascii=False))
        else:
            self.redis.hdel(SHARED_MODELS, model_id)
        return {**record, "shared": shared, "owner": model.get("owner", False)}

    def unregister_model(self, user: str, model_id: str) -> None:
        if not self.redis.hdel(f"{_base(user)}:models", model_id):
            raise NotFound

    # --- usage -----------------------------------------------------------------------------------
    def record_usage(self, user: str, model: str, prompt_tokens: int, completion_tokens: int,
                     cost: float | None) -> None:
        keys, args = TurnUsage(model, prompt_tokens, completion_tokens, cost).script_input(user)
        self._count_usage(keys=keys, args=args)

    def tokens_today(self, user: str) -> int:
        """Prompt + answer tokens of the current UTC day: what the daily quota counts."""
        return int(self.redis.get(tokens_today_key(user)) or 0)

    def usage(self, user: str, days: int) -> dict:
        since = int(time.strftime("%Y%m%d", time.gmtime(time.time() - (days - 1) * 86400)))
        day_list = self.redis.zrangebyscore(f"{_base(user)}:usagedays", since, "+inf")
        with self.redis.pipeline(transaction=False) as pipe:
            for day in day_list:
                pipe.hgetall(f"{_base(user)}:usage:{day}")
            rows = pipe.execute()
        result_days, per_model = [], {}
        total = _empty()
        for day, row in zip(day_list, rows):
            models: dict[str, dict] = {}
            for field, value in row.items():
                model, _, counter = field.rpartition("\t")
                entry = models.setdefault(model, {"model": model, **_empty()})
                entry[counter] = float(value) if counter == "cost_usd" else int(value)
            day_total = _empty()
            for entry in models.values():
                for target in (day_total, total, per_model.setdefault(entry["model"], {"model": entry["model"],
                                                                                    **_empty()})):
                    _add(target, entry)
            result_days.append({"day": day, **day_total, "models": sorted(models.values(), key=lambda m: m["model"])})
        return {"days": result_days, "models": sorted(per_model.values(), key=lambda m: m["model"]),
                "total": total, "since": f"{str(since)[:4]}-{str(since)[4:6]}-{str(since)[6:]}"}


def utc_day(at: datetime | None = None) -> str:
    """The UTC day usage and quotas are counted by, YYYY-MM-DD."""
    return (at or datetime.now(timezone.utc)).strftime("%Y-%m-%d")


def _empty() -> dict:
    return {"prompt_tokens": 0, "completion_tokens": 0, "turns": 0, "cost_usd": 0.0}


def _add(target: dict, entry: dict) -> None:
    for counter in USAGE_COUNTERS:
        target[counter] += entry.get(counter, 0)
    target["cost_usd"] = round(target["cost_usd"] + entry.get("cost_usd", 0.0), 10)
