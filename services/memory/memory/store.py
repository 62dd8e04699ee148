"""Conversations and messages in Redis, every key inside the owner's own namespace.

Keys (the user id sits in a hash tag, so one user's keys share a cluster slot and a MULTI can
span them):
  rc:{<user>}:convs              sorted set: conversation id -> last activity (ms)
  rc:{<user>}:c:<cid>            hash: the conversation's fields
  rc:{<user>}:c:<cid>:order      list: message ids, oldest first
  rc:{<user>}:c:<cid>:msgs       hash: message id -> message JSON
  rc:{<user>}:c:<cid>:pins       hash: pin id -> pin JSON
  rc:{<user>}:c:<cid>:pinorder   list: pin ids, oldest first
  rc:{<user>}:c:<cid>:summary    string: JSON of the stored summary of older messages
  rc:{<user>}:c:<cid>:context    string: JSON of the last assembled context's token breakdown
A conversation id that is not in the caller's namespace simply does not exist for them.
"""
from __future__ import annotations

import secrets
import time
from datetime import datetime, timezone

import orjson
import redis

from .usage import COUNT_USAGE, TurnUsage, user_prefix

AUTHORS = ("user", "assistant")
STATUSES = ("complete", "interrupted", "failed")
CONVERSATION_FIELDS = ("title", "instructions", "model", "role_id")
AUTO_TITLE_CHARS = 60


class NotFound(Exception):
    pass


class MessageNotFound(Exception):
    """The conversation exists but holds no such message (or not one that may be replaced)."""


class QuestionGone(Exception):
    """An answer arrived for a question that was replaced meanwhile (edit and resend, regenerate)."""


class QuotaReached(Exception):
    """Today's tokens have reached the daily quota: no new question."""


class LimitReached(Exception):
    pass


class InvalidPin(Exception):
    pass


class PinTooLong(Exception):
    pass


def _snippet(text: str, at: int, length: int, around: int = 60) -> str:
    start, end = max(0, at - around), min(len(text), at + length + around)
    return ("…" if start else "") + " ".join(text[start:end].split()) + ("…" if end < len(text) else "")


def new_id(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(16)  # 22 url-safe characters


def _now() -> tuple[int, str]:
    ms = int(time.time() * 1000)
    iso = datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds")
    return ms, iso.replace("+00:00", "Z")


# Replaces a user message and every message after it with a new question, in one step (all keys
# share the user's hash tag, so this runs on a cluster too). Nothing changes unless the message is
# a user message of the conversation. A stored summary that covers a removed message ([0, upto)
# reaches past the cut) is dropped, as is the last context breakdown when it belongs to a removed
# answer.
# KEYS: conv, order, msgs, summary, context, convs
# ARGV: message id, conversation id, now (ms), now (ISO), new message id, new message JSON
# Returns {status, index, removed, summary dropped}: status 1 done, -1 no conversation, -2 no such message.
_CUT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0, 0, 0} end
local raw = redis.call('HGET', KEYS[3], ARGV[1])
if not raw then return {-2, 0, 0, 0} end
local ok, message = pcall(cjson.decode, raw)
if not ok or type(message) ~= 'table' or message['role'] ~= 'user' then return {-2, 0, 0, 0} end
local index = redis.call('LPOS', KEYS[2], ARGV[1], 'RANK', -1)
if not index then return {-2, 0, 0, 0} end
local ids = redis.call('LRANGE', KEYS[2], index, -1)
local removed = {}
for i = 1, #ids, 500 do
  local last = math.min(i + 499, #ids)
  redis.call('HDEL', KEYS[3], unpack(ids, i, last))
  for j = i, last do removed[ids[j]] = true end
end
if index == 0 then redis.call('DEL', KEYS[2]) else redis.call('LTRIM', KEYS[2], 0, index - 1) end
local dropped = 0
local summary = redis.call('GET', KEYS[4])
if summary then
  local fine, record = pcall(cjson.decode, summary)
  if not fine or type(record) ~= 'table' or (tonumber(record['upto']) or 0) > index then
    redis.call('DEL', KEYS[4])
    dropped = 1
  end
end
local context = redis.call('GET', KEYS[5])
if context then
  local fine, record = pcall(cjson.decode, context)
  if not fine or type(record) ~= 'table' or removed[record['message_id']] then redis.call('DEL', KEYS[5]) end
end
if ARGV[5] ~= '' then  -- the message that replaces them, in the same step
  redis.call('HSET', KEYS[3], ARGV[5], ARGV[6])
  redis.call('RPUSH', KEYS[2], ARGV[5])
end
redis.call('HSET', KEYS[1], 'updated_at', ARGV[4])
redis.call('ZADD', KEYS[6], ARGV[3], ARGV[2])
return {1, index, #ids, dropped}
"""


# Stores a message in one step, having checked the conversation, its size and, for a question, the
# daily token quota. An answer is stored only while the question it answers is still in the
# conversation: a stopped answer saved moments after the question was replaced must not land after
# the new question. With the turn's usage, counts it in the same step, so an answer refused here
# counts nothing and a stored one is never left uncounted (count_usage is usage.py's
# COUNT_USAGE). The counting comes before the message's writes: Redis does not undo a script's
# writes when a later command fails, and an answer stored uncounted would be stored again by the
# caller's retry.
# KEYS: conv, order, msgs, convs, context, today's token counter[, usage keys]
# ARGV: question id or '' (none to check), message id, message JSON, conversation id, now (ms), now
# (ISO), context JSON or '', most messages, title for a conversation without one or '', daily
# token quota or '' (none)[, usage args].
# Returns 1 stored, or, checked in this order, -4 quota reached, -1 no conversation, -3 conversation
# full, -2 question gone.
_APPEND_MESSAGE = """
if ARGV[10] ~= '' and tonumber(redis.call('GET', KEYS[6]) or 0) >= tonumber(ARGV[10]) then return -4 end
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[8]) then return -3 end
if ARGV[1] ~= '' and not redis.call('LPOS', KEYS[2], ARGV[1]) then return -2 end
if #KEYS > 6 then count_usage({unpack(KEYS, 7)}, {unpack(ARGV, 11)}) end
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('RPUSH', KEYS[2], ARGV[2])
local title = redis.call('HGET', KEYS[1], 'title')
if ARGV[9] ~= '' and (not title or title == '') then
  redis.call('HSET', KEYS[1], 'updated_at', ARGV[6], 'title', ARGV[9])
else
  redis.call('HSET', KEYS[1], 'updated_at', ARGV[6])
end
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[4])
if ARGV[7] ~= '' then redis.call('SET', KEYS[5], ARGV[7]) end
return 1
"""


# What chat needs to assemble a prompt, in one round trip (Store.context_source): the conversation's
# fields, its message count, its newest messages, its pins and its summary.
# KEYS: conv, order, msgs, pinorder, pins, summary   ARGV: how many of the newest messages.
# Returns {} for no conversation, else {fields, total, ids, messages, pin ids, pins, summary or false}
# (hashes as flat lists of field, value).
_CONTEXT_SOURCE = """
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return {} end
local ids = redis.call('LRANGE', KEYS[2], -tonumber(ARGV[1]), -1)
local messages = {}
if #ids > 0 then messages = redis.call('HMGET', KEYS[3], unpack(ids)) end
return {fields, redis.call('LLEN', KEYS[2]), ids, messages, redis.call('LRANGE', KEYS[4], 0, -1),
        redis.call('HGETALL', KEYS[5]), redis.call('GET', KEYS[6])}
"""


def _pairs(flat: list) -> dict:
    """A hash as a script returns it (field, value, field, value, ...) as a dict."""
    return dict(zip(flat[::2], flat[1::2]))


def _record(message: dict, iso: str) -> dict:
    """A message as stored: its fields, a new id and the time."""
    record = {"id": new_id("m_"), "role": message["role"], "content": message["content"],
              "model": message.get("model") or "", "status": message.get("status") or "complete",
              "created_at": iso}
    for optional in ("role_id", "error", "context"):
        if message.get(optional):
            record[optional] = message[optional]
    return record


def append_pin(client: redis.Redis, owner_exists, pins_key: str, order_key: str, text: str, extra: dict, *,
               max_pins: int, holder: str) -> dict:
    """Store a pin after its owner (queued by `owner_exists(pipe)`) and the pin count were checked.

    Conversations and roles keep their pins the same way: a hash of pins and a list of their order.
    """
    with client.pipeline(transaction=True) as pipe:
        owner_exists(pipe)
        pipe.llen(order_key)
        exists, count = pipe.execute()
    if not exists:
        raise NotFound
    if count >= max_pins:
        raise LimitReached(f"{holder} holds at most {max_pins} pins; unpin one first.")
    _, iso = _now()
    pin = {"id": new_id("p_"), "text": text, "created_at": iso, **extra}
    with client.pipeline(transaction=True) as pipe:
        pipe.hset(pins_key, pin["id"], orjson.dumps(pin))
        pipe.rpush(order_key, pin["id"])
        pipe.execute()
    return pin


class Store:
    def __init__(self, client: redis.Redis, *, max_conversations: int, max_messages: int):
        self.redis = client
        self.max_conversations = max_conversations
        self.max_messages = max_messages
        self._cut = client.register_script(_CUT)
        self._context_source = client.register_script(_CONTEXT_SOURCE)
        self._append_message = client.register_script(COUNT_USAGE + _APPEND_MESSAGE)

    @staticmethod
    def _keys(user: str, cid: str | None = None) -> dict[str, str]:
        base = user_prefix(user)
        keys = {"convs": f"{base}:convs"}
        if cid:
            c = f"{base}:c:{cid}"
            keys.update(conv=c, order=f"{c}:order", msgs=f"{c}:msgs", pins=f"{c}:pins", pinorder=f"{c}:pinorder",
                        summary=f"{c}:summary", context=f"{c}:context")
        return keys

    @staticmethod
    def _conversation(fields: dict) -> dict:
        return {
            "id": fields["id"],
            "title": fields.get("title", ""),
            "instructions": fields.get("instructions", ""),
            "model": fields.get("model", ""),
            "role_id": fields.get("role_id", ""),
            "created_at": fields["created_at"],
            "updated_at": fields["updated_at"],
        }

    def create_conversation(self, user: str, fields: dict) -> dict:
        keys = self._keys(user)
        if self.redis.zcard(keys["convs"]) >= self.max_conversations:
            raise LimitReached(f"You can keep at most {self.max_conversations} conversations; delete some first.")
        cid = new_id("c_")
        ms, iso = _now()
        record = {"id": cid, "created_at": iso, "updated_at": iso, "title": "", "instructions": "", "model": ""}
        record.update({k: v for k, v in fields.items() if k in CONVERSATION_FIELDS and v is not None})
        keys = self._keys(user, cid)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys["conv"], mapping=record)
            pipe.zadd(keys["convs"], {cid: ms})
            pipe.execute()
        return self._conversation(record)

    def list_conversations(self, user: str) -> list[dict]:
        ids = self.redis.zrevrange(self._keys(user)["convs"], 0, -1)
        with self.redis.pipeline(transaction=False) as pipe:
            for cid in ids:
                pipe.hgetall(self._keys(user, cid)["conv"])
            rows = pipe.execute()
        return [self._conversation(row) for row in rows if row]

    def get_conversation(self, user: str, cid: str, last: int | None = None) -> dict:
        keys = self._keys(user, cid)
        start = 0 if last is None else -last
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(keys["conv"])
            pipe.lrange(keys["order"], start, -1)
            fields, ids = pipe.execute()
        if not fields:
            raise NotFound
        conversation = self._conversation(fields)
        raw = self.redis.hmget(keys["msgs"], ids) if ids else []
        conversation["messages"] = [orjson.loads(m) for m in raw if m]
        return conversation

    def update_conversation(self, user: str, cid: str, fields: dict) -> dict:
        keys = self._keys(user, cid)
        if not self.redis.exists(keys["conv"]):
            raise NotFound
        ms, iso = _now()
        changes = {k: v for k, v in fields.items() if k in CONVERSATION_FIELDS and v is not None}
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys["conv"], mapping={**changes, "updated_at": iso})
            pipe.zadd(keys["convs"], {cid: ms})
            pipe.hgetall(keys["conv"])
            *_, record = pipe.execute()
        return self._conversation(record)

    def delete_conversation(self, user: str, cid: str) -> None:
        keys = self._keys(user, cid)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys["conv"], keys["order"], keys["msgs"], keys["pins"], keys["pinorder"], keys["summary"],
                        keys["context"])
            pipe.zrem(keys["convs"], cid)
            deleted, _ = pipe.execute()
        if not deleted:
            raise NotFound

    def append_message(self, user: str, cid: str, message: dict, usage: TurnUsage | None = None, *,
                       quota: tuple[str, int] | None = None) -> dict:
        """Store a message, in one round trip. With `usage` (an answer's), count it in the same
        atomic step; with `quota` (today's token counter and the daily quota, for a question), refuse
        it with QuotaReached once the counter has reached the quota."""
        keys = self._keys(user, cid)
        ms, iso = _now()
        record = _record(message, iso)
        context = orjson.dumps({**record["context"], "message_id": record["id"]}) if record.get("context") else ""
        title = " ".join(record["content"].split())[:AUTO_TITLE_CHARS] if record["role"] == "user" else ""
        quota_key, daily = quota if quota is not None else (keys["convs"], "")  # any key of the user's slot
        usage_keys, usage_args = usage.script_input(user) if usage is not None else ([], [])
        status = self._append_message(
            keys=[keys["conv"], keys["order"], keys["msgs"], keys["convs"], keys["context"], quota_key, *usage_keys],
            args=[message.get("answers") or "", record["id"], orjson.dumps(record), cid, ms, iso,
                  context, self.max_messages, title, daily, *usage_args])
        if status == -1:
            raise NotFound
        if status == -3:
            raise LimitReached(f"A conversation holds at most {self.max_messages} messages; start a new one.")
        if status == -4:
            raise QuotaReached
        if status != 1:
            raise QuestionGone
        return record

    def replace_from(self, user: str, cid: str, mid: str, question: dict) -> dict:
        """Edit and resend, regenerate: user message `mid` and every message after it give way to
        `question`, all in one atomic step (see _CUT), so no crash can leave the old tail gone and
        the new question unsaved. Raises NotFound (no conversation) or MessageNotFound (no such user
        message), having changed nothing. Pins are copies of text and stay.

        Returns the stored question with `replaced`: {"index", "removed", "summary_dropped"}.
        """
        keys = self._keys(user, cid)
        ms, iso = _now()
        record = _record({**question, "role": "user"}, iso)
        status, index, removed, dropped = self._cut(
            keys=[keys["conv"], keys["order"], keys["msgs"], keys["summary"], keys["context"], keys["convs"]],
            args=[mid, cid, ms, iso, record["id"], orjson.dumps(record)])
        if status == -1:
            raise NotFound
        if status != 1:
            raise MessageNotFound
        return {**record, "replaced": {"index": int(index), "removed": int(removed), "summary_dropped": bool(dropped)}}

    # --- reading messages page by page -----------------------------------------------------------
    def _messages(self, keys: dict, ids: list[str]) -> list[dict]:
        raw = self.redis.hmget(keys["msgs"], ids) if ids else []
        return [orjson.loads(m) for m in raw if m]

    def get_message(self, user: str, cid: str, mid: str) -> dict:
        keys = self._keys(user, cid)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.exists(keys["conv"])
            pipe.hget(keys["msgs"], mid)
            exists, raw = pipe.execute()
        if not exists or not raw:
            raise NotFound
        return orjson.loads(raw)

    def message_page(self, user: str, cid: str, *, before: int | None, limit: int) -> dict:
        """Up to `limit` messages just before index `before` (None: the newest), oldest first.

        Work is proportional to `limit` plus the distance from the end of the list, never to the
        whole history: LRANGE with negative offsets walks from the tail.
        """
        keys = self._keys(user, cid)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.exists(keys["conv"])
            pipe.llen(keys["order"])
            exists, total = pipe.execute()
        if not exists:
            raise NotFound
        end = total if before is None else max(0, min(before, total))
        start = max(0, end - limit)
        ids = self.redis.lrange(keys["order"], start - total, end - total - 1) if end > start else []
        return {"total": total, "start": start, "messages": self._messages(keys, ids)}

    def context_source(self, user: str, cid: str, limit: int, replacing: str | None = None) -> dict:
        """What chat needs to assemble a prompt: settings, pins, summary and the newest messages.

        With `replacing` (a user message's id), the conversation as it will be once that message
        and everything after it are cut: only the messages before it, and no summary that covers
        a message to be removed. MessageNotFound when it is not a user message of the conversation.
        """
        keys = self._keys(user, cid)
        if replacing is None:  # the newest messages: one round trip (_CONTEXT_SOURCE)
            found = self._context_source(keys=[keys["conv"], keys["order"], keys["msgs"], keys["pinorder"],
                                               keys["pins"], keys["summary"]], args=[limit])
            if not found:
                raise NotFound
            fields, total, ids, messages, pin_ids, pins, summary = found
            return self._source(_pairs(fields), total, ids, [orjson.loads(m) for m in messages if m], pin_ids,
                                _pairs(pins), summary)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(keys["conv"])
            pipe.lrange(keys["pinorder"], 0, -1)
            pipe.hgetall(keys["pins"])
            pipe.get(keys["summary"])
            pipe.hget(keys["msgs"], replacing)
            pipe.lpos(keys["order"], replacing, rank=-1)
            fields, pin_ids, pins, summary, raw, index = pipe.execute()
        if not fields:
            raise NotFound
        if not raw or index is None or orjson.loads(raw).get("role") != "user":
            raise MessageNotFound
        ids = self.redis.lrange(keys["order"], max(0, index - limit), index - 1) if index else []
        if summary and int(orjson.loads(summary).get("upto") or 0) > index:
            summary = None  # it covers a message the cut removes; it will be rewritten
        return self._source(fields, index, ids, self._messages(keys, ids), pin_ids, pins, summary)

    def _source(self, fields: dict, total: int, ids: list, messages: list[dict], pin_ids: list, pins: dict,
                summary: str | None) -> dict:
        """A context source from what was read: `total` messages, of which `ids` (the newest)."""
        source = self._conversation(fields)
        source["total"] = total
        source["start"] = total - len(ids)
        source["messages"] = messages
        source["pins"] = [orjson.loads(pins[p]) for p in pin_ids if p in pins]
        source["summary"] = orjson.loads(summary) if summary else None
        return source

    def iter_messages(self, user: str, cid: str, page: int = 500):
        """Every message, oldest first, read page by page (for exports)."""
        keys = self._keys(user, cid)
        start = 0
        while True:
            ids = self.redis.lrange(keys["order"], start, start + page - 1)
            if not ids:
                return
            yield from self._messages(keys, ids)
            start += len(ids)

    # --- pins ------------------------------------------------------------------------------------
    def list_pins(self, user: str, cid: str) -> list[dict]:
        keys = self._keys(user, cid)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.exists(keys["conv"])
            pipe.lrange(keys["pinorder"], 0, -1)
            pipe.hgetall(keys["pins"])
            exists, ids, pins = pipe.execute()
        if not exists:
            raise NotFound
        return [orjson.loads(pins[p]) for p in ids if p in pins]

    def add_pin(self, user: str, cid: str, text: str | None, message_id: str | None, max_pins: int,
                max_chars: int) -> dict:
        """A pin of a whole message (text None), of an excerpt of one, or a note (no message)."""
        keys = self._keys(user, cid)
        if message_id is not None:
            message = self.get_message(user, cid, message_id)
            content = message.get("content") or ""
            if text is None:
                if not content.strip():
                    raise InvalidPin("That message is empty; there is nothing to pin.")
                text = content
            elif text not in content:
                raise InvalidPin("'text' must be an excerpt of the message: copy it exactly from the message.")
        if len(text) > max_chars:
            raise PinTooLong(f"A pin holds at most {max_chars} characters; pin an excerpt of the message instead.")
        extra = {} if message_id is None else {"message_id": message_id}
        return append_pin(self.redis, lambda pipe: pipe.exists(keys["conv"]), keys["pins"], keys["pinorder"],
                          text, extra, max_pins=max_pins, holder="A conversation")

    def delete_pin(self, user: str, cid: str, pin_id: str) -> None:
        keys = self._keys(user, cid)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.exists(keys["conv"])
            pipe.hdel(keys["pins"], pin_id)
            pipe.lrem(keys["pinorder"], 0, pin_id)
            exists, deleted, _ = pipe.execute()
        if not exists or not deleted:
            raise NotFound

    # --- summary and context breakdown ---------------------------------------------------------
    def get_summary(self, user: str, cid: str) -> dict | None:
        keys = self._keys(user, cid)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.exists(keys["conv"])
            pipe.get(keys["summary"])
            exists, raw = pipe.execute()
        if not exists:
            raise NotFound
        return orjson.loads(raw) if raw else None

    def put_summary(self, user: str, cid: str, text: str, upto: int, model: str) -> tuple[bool, dict | None]:
        """Store a summary of messages [0, upto) unless a stored one already covers more."""
        keys = self._keys(user, cid)
        _, iso = _now()
        record = {"text": text, "upto": upto, "model": model, "updated_at": iso}
        with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(keys["summary"], keys["conv"])
                    if not pipe.exists(keys["conv"]):
                        raise NotFound
                    raw = pipe.get(keys["summary"])
                    current = orjson.loads(raw) if raw else None
                    if current and int(current.get("upto", 0)) > upto:
                        pipe.unwatch()
                        return False, current
                    pipe.multi()
                    pipe.set(keys["summary"], orjson.dumps(record))
                    pipe.execute()
                    return True, record
                except redis.WatchError:
                    continue

    def get_context(self, user: str, cid: str) -> tuple[dict | None, dict | None]:
        keys = self._keys(user, cid)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.exists(keys["conv"])
            pipe.get(keys["context"])
            pipe.get(keys["summary"])
            exists, context, summary = pipe.execute()
        if not exists:
            raise NotFound
        return (orjson.loads(context) if context else None), (orjson.loads(summary) if summary else None)

    # --- search ----------------------------------------------------------------------------------
    def search(self, user: str, query: str, *, max_conversations: int, messages_per_conversation: int,
               max_results: int) -> list[dict]:
        """Conversations whose title or message text contains `query` (case-insensitive), newest first.

        Bounded work: the newest `max_conversations` conversations, the newest
        `messages_per_conversation` messages of each, at most `max_results` results.
        """
        needle = query.casefold()
        ids = self.redis.zrevrange(self._keys(user)["convs"], 0, max_conversations - 1)
        results: list[dict] = []
        for start in range(0, len(ids), 50):
            batch = ids[start:start + 50]
            with self.redis.pipeline(transaction=False) as pipe:
                for cid in batch:
                    keys = self._keys(user, cid)
                    pipe.hgetall(keys["conv"])
                    pipe.lrange(keys["order"], -messages_per_conversation, -1)
                rows = pipe.execute()
            for cid, fields, order in zip(batch, rows[0::2], rows[1::2]):
                if not fields:
                    continue
                conversation = self._conversation(fields)
                if needle in conversation["title"].casefold():
                    conversation["match"] = {"in": "title", "snippet": conversation["title"]}
                else:
                    hit = self._search_messages(self._keys(user, cid), order, needle)
                    if hit is None:
                        continue
                    conversation["match"] = hit
                results.append(conversation)
                if len(results) >= max_results:
                    return results
        return results

    def _search_messages(self, keys: dict, order: list[str], needle: str) -> dict | None:
        for start in range(len(order), 0, -100):  # newest first
            ids = order[max(0, start - 100):start]
            for message in reversed(self._messages(keys, ids)):
                content = message.get("content") or ""
                at = content.casefold().find(needle)
                if at >= 0:
                    return {"in": "message", "message_id": message["id"], "snippet": _snippet(content, at, len(needle))}
        return None

    def ping(self) -> bool:
        return bool(self.redis.ping())
