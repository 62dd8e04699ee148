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

from .store import LimitReached, NotFound, PinTooLong, _now, append_pin, new_id
from .usage import COUNT_USAGE, TurnUsage, tokens_today_key, user_prefix

ROLE_FIELDS = ("name", "instructions", "model", "temperature", "max_answer_tokens")
USAGE_COUNTERS = ("prompt_tokens", "completion_tokens", "turns")
SHARED_MODELS = "rc:shared:models"

class ProfileStore:
    def __init__(self, client):
        self.redis = client
        self._count_usage = client.register_script(COUNT_USAGE + "count_usage(KEYS, ARGV)")

    # --- roles -----------------------------------------------------------------------------------
    def list_roles(self, user: str) -> list[dict]:
        roles = [json.loads(v) for v in self.redis.hgetall(f"{user_prefix(user)}:roles").values()]
        return sorted(roles, key=lambda r: r.get("created_at", ""))

    def get_role(self, user: str, rid: str) -> dict:
        raw = self.redis.hget(f"{user_prefix(user)}:roles", rid)
        if not raw:
            raise NotFound
        return json.loads(raw)

    def create_role(self, user: str, fields: dict, max_roles: int) -> dict:
        key = f"{user_prefix(user)}:roles"
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
        self.redis.hset(f"{user_prefix(user)}:roles", rid, json.dumps(role, ensure_ascii=False))
        return role

    def delete_role(self, user: str, rid: str) -> None:
        base = user_prefix(user)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(f"{base}:roles", rid)
            pipe.delete(f"{base}:r:{rid}:pins", f"{base}:r:{rid}:pinorder")
            deleted, _ = pipe.execute()
        if not deleted:
            raise NotFound

    def list_role_pins(self, user: str, rid: str) -> list[dict]:
        base = user_prefix(user)
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
        base = user_prefix(user)
        return append_pin(self.redis, lambda pipe: pipe.hexists(f"{base}:roles", rid), f"{base}:r:{rid}:pins",
                          f"{base}:r:{rid}:pinorder", text, {}, max_pins=max_pins, holder="A role")

    def delete_role_pin(self, user: str, rid: str, pin_id: str) -> None:
        base = user_prefix(user)
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
            pipe.hgetall(f"{user_prefix(user)}:models")
            pipe.hgetall(SHARED_MODELS)
            own, shared = pipe.execute()
        models = {k: {**json.loads(v), "shared": False, "owner": True} for k, v in own.items()}
        for k, v in shared.items():
            models[k] = {**json.loads(v), "shared": True, "owner": k in own}
        return sorted(models.values(), key=lambda m: m["id"])

    def register_model(self, user: str, model_id: str, label: str, max_models: int) -> dict:
        key = f"{user_prefix(user)}:models"
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
        if not self.redis.hdel(f"{user_prefix(user)}:models", model_id):
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
        day_list = self.redis.zrangebyscore(f"{user_prefix(user)}:usagedays", since, "+inf")
        with self.redis.pipeline(transaction=False) as pipe:
            for day in day_list:
                pipe.hgetall(f"{user_prefix(user)}:usage:{day}")
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


def _empty() -> dict:
    return {"prompt_tokens": 0, "completion_tokens": 0, "turns": 0, "cost_usd": 0.0}


def _add(target: dict, entry: dict) -> None:
    for counter in USAGE_COUNTERS:
        target[counter] += entry.get(counter, 0)
    target["cost_usd"] = round(target["cost_usd"] + entry.get("cost_usd", 0.0), 10)
