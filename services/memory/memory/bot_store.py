"""Published bots: an owner's role offered under a URL slug, its API keys, usage and transcripts.

Keys. Slugs and API keys are global, so each global record is one key with its own hash tag; every
transaction (MULTI) stays inside one hash tag, so all of this works on Redis Cluster:
  rc:{bot:<slug>}                          string: JSON {"owner", "id", "claimed_at"}: who holds the slug
  rc:{botkey:<sha256 hex of the key>}      string: JSON {"key_id", "owner", "bot_id", "slug"}
  rc:{botkeyid:<key id>}                   string: the same JSON, found by key id (an API-key caller)
  rc:{<owner>}:bots                        hash: slug -> bot JSON
  rc:{<owner>}:bot:<bid>:keys              hash: key id -> key JSON (name, created_at, digest; never the key)
  rc:{<owner>}:bot:<bid>:keyused           hash: key id -> last use (ISO time)
  rc:{<owner>}:bot:<bid>:keyusage:<YYYY-MM>  hash: "<key id>\t<counter>" -> number (tokens, requests)
  rc:{<owner>}:bot:<bid>:usage:<YYYY-MM-DD>  hash: counter -> number (prompt_tokens, completion_tokens, turns)
  rc:{<owner>}:bot:<bid>:convs             sorted set: visitor conversation id -> last activity (ms)
  rc:{<owner>}:bot:<bid>:visitors          hash: visitor conversation id -> visitor id
A visitor's conversation is an ordinary conversation in the visitor's own namespace (store.py)
whose hash also carries `bot` (the slug) and `bot_id`; the owner reaches it through the bot's index.
Sub-keys hang off the bot's id, not its slug, so a deleted and re-created slug starts afresh.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import time
from datetime import datetime, timedelta, timezone

import redis

from rolechat_common.limits import LimitPolicy, seconds_until_utc_midnight

from .profile_store import ProfileStore
from .usage import user_prefix, utc_day
from .store import LimitReached, NotFound, Store, _now, new_id

BOT_FIELDS = ("role_id", "greeting", "suggestions", "daily_token_budget", "published")
USAGE_DAYS_KEPT = 40
KEY_USAGE_MONTHS_KEPT = 13
ORPHAN_CLAIM_SECONDS = 60  # a slug claimed this long ago without its bot record was left by a failed create
KEY_PREFIX = "rck_"


class SlugTaken(Exception):
    pass


class RoleNotFound(Exception):
    pass


class InvalidKey(Exception):
    pass


def _claim_key(slug: str) -> str:
    return f"rc:{{bot:{slug}}}"


def _digest_key(digest: str) -> str:
    return f"rc:{{botkey:{digest}}}"


def _key_id_key(key_id: str) -> str:
    return f"rc:{{botkeyid:{key_id}}}"


def _bot_key(owner: str, bid: str, name: str) -> str:
    return f"{user_prefix(owner)}:bot:{bid}:{name}"


def digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def visitor_tag(visitor: str) -> str:
    """A stable pseudonym for a visitor in transcripts; the visitor id itself never leaves memory."""
    return "visitor-" + hashlib.sha256(visitor.encode()).hexdigest()[:10]


def _month(at: datetime | None = None) -> str:
    return (at or datetime.now(timezone.utc)).strftime("%Y-%m")


def seconds_until_next_month(now: datetime | None = None) -> int:
    now = now or datetime.now(timezone.utc)
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (first + timedelta(days=32)).replace(day=1)
    return max(1, int((following - now).total_seconds() + 0.999))


class BotStore:
    def __init__(self, client, store: Store, profile: ProfileStore):
        self.redis = client
        self.store = store
        self.profile = profile

    # --- the owner's bots --------------------------------------------------------------------------
    @staticmethod
    def _view(record: dict, role: dict | None) -> dict:
        """The bot as its owner sees it; `role` None: the role was deleted (the bot is then offline)."""
        return {"slug": record["slug"], "role_id": record["role_id"], "name": (role or {}).get("name", ""),
                "greeting": record.get("greeting", ""), "suggestions": list(record.get("suggestions") or []),
                "daily_token_budget": record.get("daily_token_budget"), "published": bool(record.get("published")),
                "role_available": role is not None, "created_at": record["created_at"],
                "updated_at": record.get("updated_at", record["created_at"])}

    def _role_or_none(self, owner: str, role_id: str) -> dict | None:
        try:
            return self.profile.get_role(owner, role_id)
        except NotFound:
            return None

    def _record(self, owner: str, slug: str) -> dict:
        raw = self.redis.hget(f"{user_prefix(owner)}:bots", slug)
        if not raw:
            raise NotFound
        return json.loads(raw)

    def _role(self, owner: str, role_id: str) -> dict:
        try:
            return self.profile.get_role(owner, role_id)
        except NotFound:
            raise RoleNotFound from None

    def list_bots(self, owner: str) -> list[dict]:
        records = [json.loads(v) for v in self.redis.hgetall(f"{user_prefix(owner)}:bots").values()]
        roles = {r["id"]: r for r in self.profile.list_roles(owner)}
        return sorted((self._view(r, roles.get(r["role_id"])) for r in records), key=lambda b: b["created_at"])

    def get_bot(self, owner: str, slug: str) -> dict:
        record = self._record(owner, slug)
        return self._view(record, self._role_or_none(owner, record["role_id"]))

    def create_bot(self, owner: str, slug: str, fields: dict, max_bots: int, owner_groups: tuple = ()) -> dict:
        role = self._role(owner, fields["role_id"])
        bots_key = f"{user_prefix(owner)}:bots"
        if self.redis.hlen(bots_key) >= max_bots:
            raise LimitReached(f"You can publish at most {max_bots} bots; delete one first.")
        ms, iso = _now()
        record = {"id": new_id("b_"), "slug": slug, "role_id": fields["role_id"], "greeting": "",
                  "suggestions": [], "daily_token_budget": None, "published": True, "created_at": iso,
                  "updated_at": iso, "owner_groups": list(owner_groups)}
        record.update({k: v for k, v in fields.items() if k in BOT_FIELDS and k != "published"})
        claim = json.dumps({"owner": owner, "id": record["id"], "claimed_at": ms})
        if not self.redis.set(_claim_key(slug), claim, nx=True):
            if not self._drop_orphan_claim(slug) or not self.redis.set(_claim_key(slug), claim, nx=True):
                raise SlugTaken
        try:
            self.redis.hset(bots_key, slug, json.dumps(record, ensure_ascii=False))
        except redis.exceptions.RedisError:
            self._release_claim(slug, record["id"])
            raise
        return self._view(record, role)

    def update_bot(self, owner: str, slug: str, fields: dict, owner_groups: tuple = ()) -> dict:
        record = self._record(owner, slug)
        if "role_id" in fields:
            role = self._role(owner, fields["role_id"])
        else:
            role = self._role_or_none(owner, record["role_id"])
        _, iso = _now()
        record.update({k: v for k, v in fields.items() if k in BOT_FIELDS})
        record["updated_at"] = iso
        record["owner_groups"] = list(owner_groups)  # as of the owner's latest change
        self.redis.hset(f"{user_prefix(owner)}:bots", slug, json.dumps(record, ensure_ascii=False))
        return self._view(record, role)

    def delete_bot(self, owner: str, slug: str) -> None:
        record = self._record(owner, slug)
        bid = record["id"]
        keys = self.redis.hgetall(_bot_key(owner, bid, "keys"))
        for key_id, raw in keys.items():  # revoke first: the keys stop working before anything else goes
            self._forget_key(key_id, json.loads(raw))
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(f"{user_prefix(owner)}:bots", slug)
            pipe.delete(*(_bot_key(owner, bid, name) for name in ("keys", "keyused", "convs", "visitors")))
            pipe.execute()
        self._release_claim(slug, bid)

    def _release_claim(self, slug: str, bid: str) -> None:
        """Delete the slug's claim if it still names this bot (a compare-and-delete on one key)."""
        with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(_claim_key(slug))
                    raw = pipe.get(_claim_key(slug))
                    if not raw or json.loads(raw).get("id") != bid:
                        pipe.unwatch()
                        return
                    pipe.multi()
                    pipe.delete(_claim_key(slug))
                    pipe.execute()
                    return
                except redis.WatchError:
                    continue

    def _drop_orphan_claim(self, slug: str) -> bool:
        """True when the slug's claim was left behind by a create that failed, and is now gone."""
        raw = self.redis.get(_claim_key(slug))
        if not raw:
            return True
        claim = json.loads(raw)
        if time.time() * 1000 - int(claim.get("claimed_at") or 0) < ORPHAN_CLAIM_SECONDS * 1000:
            return False  # possibly a create still in progress
        current = self.redis.hget(f"{user_prefix(claim['owner'])}:bots", slug)
        if current and json.loads(current).get("id") == claim.get("id"):
            return False
        self._release_claim(slug, claim.get("id"))
        return True

    def _lookup(self, slug: str) -> tuple[str, dict]:
        """(owner, bot record) of whoever holds the slug, published or not."""
        raw = self.redis.get(_claim_key(slug))
        if not raw:
            raise NotFound
        claim = json.loads(raw)
        current = self.redis.hget(f"{user_prefix(claim['owner'])}:bots", slug)
        if not current:
            raise NotFound
        record = json.loads(current)
        if record.get("id") != claim.get("id"):
            raise NotFound
        return claim["owner"], record

    def published(self, slug: str) -> tuple[str, dict, dict]:
        """(owner, bot record, role) of a published bot whose role still exists, else NotFound."""
        owner, record = self._lookup(slug)
        if not record.get("published"):
            raise NotFound
        role = self.profile.get_role(owner, record["role_id"])  # NotFound when the role was deleted
        return owner, record, role

    def public_bot(self, slug: str) -> dict:
        _, record, role = self.published(slug)
        return {"slug": slug, "name": role.get("name", ""), "greeting": record.get("greeting", ""),
                "suggestions": list(record.get("suggestions") or [])}

    # --- API keys ----------------------------------------------------------------------------------
    def create_key(self, owner: str, slug: str, name: str, monthly_token_quota: int | None,
                   max_keys: int) -> dict:
        record = self._record(owner, slug)
        keys_key = _bot_key(owner, record["id"], "keys")
        if self.redis.hlen(keys_key) >= max_keys:
            raise LimitReached(f"A bot holds at most {max_keys} API keys; revoke one first.")
        raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
        _, iso = _now()
        key = {"id": new_id("k_"), "name": name, "created_at": iso, "monthly_token_quota": monthly_token_quota,
               "digest": digest(raw_key)}
        lookup = json.dumps({"key_id": key["id"], "owner": owner, "bot_id": record["id"], "slug": slug})
        self.redis.hset(keys_key, key["id"], json.dumps(key, ensure_ascii=False))
        self.redis.set(_key_id_key(key["id"]), lookup)
        self.redis.set(_digest_key(key["digest"]), lookup)  # last: the key works once everything else exists
        return {"id": key["id"], "name": name, "key": raw_key, "created_at": iso,
                "monthly_token_quota": monthly_token_quota}

    def list_keys(self, owner: str, slug: str) -> list[dict]:
        bid = self._record(owner, slug)["id"]
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(_bot_key(owner, bid, "keys"))
            pipe.hgetall(_bot_key(owner, bid, "keyused"))
            pipe.hgetall(_bot_key(owner, bid, f"keyusage:{_month()}"))
            keys, used, usage = pipe.execute()
        result = []
        for key_id, raw in keys.items():
            key = json.loads(raw)
            result.append({"id": key_id, "name": key.get("name", ""), "created_at": key["created_at"],
                           "last_used_at": used.get(key_id), "monthly_token_quota": key.get("monthly_token_quota"),
                           "usage_this_month": {"tokens": int(usage.get(f"{key_id}\ttokens", 0)),
                                                "requests": int(usage.get(f"{key_id}\trequests", 0))}})
        return sorted(result, key=lambda k: k["created_at"])

    def delete_key(self, owner: str, slug: str, key_id: str) -> None:
        bid = self._record(owner, slug)["id"]
        raw = self.redis.hget(_bot_key(owner, bid, "keys"), key_id)
        if not raw:
            raise NotFound
        self._forget_key(key_id, json.loads(raw))
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(_bot_key(owner, bid, "keys"), key_id)
            pipe.hdel(_bot_key(owner, bid, "keyused"), key_id)
            pipe.execute()

    def _forget_key(self, key_id: str, key: dict) -> None:
        self.redis.delete(_digest_key(key["digest"]))
        self.redis.delete(_key_id_key(key_id))

    def verify_key(self, raw_key: str) -> dict:
        """{"key_id", "slug", "owner"} for a live key, else InvalidKey; notes when it was used."""
        raw = self.redis.get(_digest_key(digest(raw_key)))
        if not raw:
            raise InvalidKey
        found = json.loads(raw)
        owner, bid = found["owner"], found["bot_id"]
        if not self.redis.hexists(_bot_key(owner, bid, "keys"), found["key_id"]):
            raise InvalidKey  # revoked while this lookup was in flight
        _, iso = _now()
        self.redis.hset(_bot_key(owner, bid, "keyused"), found["key_id"], iso)
        return {"key_id": found["key_id"], "slug": found["slug"], "owner": owner}

    def key_owner(self, key_id: str) -> dict:
        """The bot an API key belongs to: {"key_id", "owner", "bot_id", "slug"}, else NotFound."""
        raw = self.redis.get(_key_id_key(key_id))
        if not raw:
            raise NotFound
        return json.loads(raw)

    # --- what chat needs to answer as the bot ------------------------------------------------------
    def runtime(self, slug: str, *, key_id: str | None = None, visitor: str | None = None,
                conversation: str | None = None, limits: LimitPolicy | None = None) -> dict:
        """What chat needs to answer as the bot. The bot's tokens count against its owner's daily
        quota too (`limits`: the owner's groups as stored with the bot): a bot is no way around it."""
        owner, record, role = self.published(slug)
        bid = record["id"]
        key = None
        if key_id is not None:
            raw = self.redis.hget(_bot_key(owner, bid, "keys"), key_id)
            if not raw:
                raise NotFound  # another bot's key (or a revoked one)
            key = json.loads(raw)
        if conversation is not None:
            if visitor is None or self.redis.hget(self.store._keys(visitor, conversation)["conv"], "bot_id") != bid:
                raise NotFound
        pins = [p["text"] for p in self.profile.list_role_pins(owner, record["role_id"])]
        model = role.get("model") or ""
        registered = bool(model) and any(m["id"] == model for m in self.profile.list_models(owner))
        today = self.redis.hgetall(_bot_key(owner, bid, f"usage:{utc_day()}"))
        used = int(today.get("prompt_tokens", 0)) + int(today.get("completion_tokens", 0))
        budget = record.get("daily_token_budget")
        exhausted = budget is not None and used >= budget
        if limits is not None and not exhausted:
            owner_quota = limits.for_groups(record.get("owner_groups") or ()).daily_tokens
            exhausted = owner_quota is not None and self.profile.tokens_today(owner) >= owner_quota
        created = datetime.fromisoformat(record["created_at"].replace("Z", "+00:00"))
        result = {"slug": slug, "name": role.get("name", ""), "instructions": role.get("instructions") or "",
                  "pins": pins, "model": model, "model_registered": registered,
                  "temperature": role.get("temperature"), "max_answer_tokens": role.get("max_answer_tokens"),
                  "daily_token_budget": budget, "tokens_today": used, "budget_exhausted": exhausted,
                  "retry_after": seconds_until_utc_midnight() if exhausted else None,
                  "created": int(created.timestamp())}
        if key is not None:
            quota = key.get("monthly_token_quota")
            spent = int(self.redis.hget(_bot_key(owner, bid, f"keyusage:{_month()}"), f"{key_id}\ttokens") or 0)
            over = quota is not None and spent >= quota
            result["key"] = {"id": key_id, "monthly_token_quota": quota, "tokens_this_month": spent,
                             "quota_exhausted": over, "retry_after": seconds_until_next_month() if over else None}
        return result

    def record_usage(self, slug: str, prompt_tokens: int, completion_tokens: int, *, key_id: str | None = None,
                     conversation: str | None = None) -> None:
        owner, record = self._lookup(slug)
        bid = record["id"]
        if key_id is not None and not self.redis.hexists(_bot_key(owner, bid, "keys"), key_id):
            raise NotFound
        day_key = _bot_key(owner, bid, f"usage:{utc_day()}")
        ms, _ = _now()
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(day_key, "prompt_tokens", prompt_tokens)
            pipe.hincrby(day_key, "completion_tokens", completion_tokens)
            pipe.hincrby(day_key, "turns", 1)
            pipe.expire(day_key, USAGE_DAYS_KEPT * 86400)
            if key_id is not None:
                month_key = _bot_key(owner, bid, f"keyusage:{_month()}")
                pipe.hincrby(month_key, f"{key_id}\ttokens", prompt_tokens + completion_tokens)
                pipe.hincrby(month_key, f"{key_id}\trequests", 1)
                pipe.expire(month_key, KEY_USAGE_MONTHS_KEPT * 31 * 86400)
            if conversation is not None:
                pipe.zadd(_bot_key(owner, bid, "convs"), {conversation: ms}, xx=True)  # newest activity first
            pipe.execute()
        # The owner pays for the bot: its tokens are in their usage, under "bot:<slug>", and count
        # against their daily quota.
        self.profile.record_usage(owner, f"bot:{slug}", prompt_tokens, completion_tokens, None)

    def usage(self, owner: str, slug: str, days: int = 30) -> dict:
        record = self._record(owner, slug)
        now = datetime.now(timezone.utc)
        day_list = [utc_day(now - timedelta(days=i)) for i in range(days - 1, -1, -1)]
        with self.redis.pipeline(transaction=True) as pipe:
            for day in day_list:
                pipe.hgetall(_bot_key(owner, record["id"], f"usage:{day}"))
            rows = pipe.execute()
        result = []
        for day, row in zip(day_list, rows):
            prompt, completion = int(row.get("prompt_tokens", 0)), int(row.get("completion_tokens", 0))
            result.append({"day": day, "prompt_tokens": prompt, "completion_tokens": completion,
                           "total_tokens": prompt + completion, "turns": int(row.get("turns", 0))})
        budget = record.get("daily_token_budget")
        today = result[-1]["total_tokens"]
        return {"days": result, "daily_token_budget": budget, "tokens_today": today,
                "remaining_today": None if budget is None else max(0, budget - today),
                "resets_in_seconds": seconds_until_utc_midnight(now)}

    # --- visitors' conversations and the owner's transcripts -------------------------------------
    def create_visitor_conversation(self, visitor: str, slug: str) -> dict:
        owner, record, role = self.published(slug)
        bid = record["id"]
        conversation = self.store.create_conversation(visitor, {"title": ""})
        ms, _ = _now()
        self.redis.hset(self.store._keys(visitor, conversation["id"])["conv"], mapping={"bot": slug, "bot_id": bid})
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(_bot_key(owner, bid, "convs"), {conversation["id"]: ms})
            pipe.hset(_bot_key(owner, bid, "visitors"), conversation["id"], visitor)
            pipe.execute()
        return {**conversation, "bot": slug, "messages": []}

    def visitor_conversation(self, visitor: str, slug: str, cid: str) -> dict:
        _, record = self._lookup(slug)
        if self.redis.hget(self.store._keys(visitor, cid)["conv"], "bot_id") != record["id"]:
            raise NotFound
        return {**self.store.get_conversation(visitor, cid), "bot": slug}

    def transcripts(self, owner: str, slug: str, limit: int) -> list[dict]:
        bid = self._record(owner, slug)["id"]
        ids = self.redis.zrevrange(_bot_key(owner, bid, "convs"), 0, limit - 1)
        # only this page's visitors: the index grows with every visitor conversation
        visitors = self.redis.hmget(_bot_key(owner, bid, "visitors"), ids) if ids else []
        pairs = [(cid, visitor) for cid, visitor in zip(ids, visitors) if visitor]
        with self.redis.pipeline(transaction=False) as pipe:  # one visitor's keys per command: any slot
            for cid, visitor in pairs:
                keys = self.store._keys(visitor, cid)
                pipe.hgetall(keys["conv"])
                pipe.lrange(keys["order"], 0, 0)
                pipe.llen(keys["order"])
            rows = pipe.execute()
        found = []
        for (cid, visitor), fields, first, count in zip(pairs, rows[0::3], rows[1::3], rows[2::3]):
            if fields and fields.get("bot_id") == bid:
                found.append((cid, visitor, fields, first[0] if first else None, count))
        with self.redis.pipeline(transaction=False) as pipe:
            for cid, visitor, _, first_id, _ in found:
                pipe.hget(self.store._keys(visitor, cid)["msgs"], first_id or "-")
            firsts = pipe.execute()
        result = []
        for (cid, visitor, fields, _, count), raw in zip(found, firsts):
            first = json.loads(raw) if raw else None
            result.append({"id": cid, "visitor": visitor_tag(visitor), "created_at": fields["created_at"],
                           "updated_at": fields["updated_at"], "messages": count,
                           "first_message": first["content"] if first and first.get("role") == "user" else ""})
        return result

    def transcript(self, owner: str, slug: str, cid: str) -> dict:
        bid = self._record(owner, slug)["id"]
        visitor = self.redis.hget(_bot_key(owner, bid, "visitors"), cid)
        if not visitor or self.redis.hget(self.store._keys(visitor, cid)["conv"], "bot_id") != bid:
            raise NotFound
        conversation = self.store.get_conversation(visitor, cid)
        return {"id": cid, "visitor": visitor_tag(visitor), "created_at": conversation["created_at"],
                "updated_at": conversation["updated_at"],
                "messages": [{k: m[k] for k in ("id", "role", "content", "status", "created_at") if k in m}
                             for m in conversation["messages"]]}
