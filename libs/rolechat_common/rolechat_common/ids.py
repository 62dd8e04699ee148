"""The shapes of the ids the services hand out and accept: one definition for all of them (the
auth-proxy's routing table, chat and memory), so a path that one service would refuse never
reaches another."""
from __future__ import annotations

import re

CONVERSATION_ID = re.compile(r"^c_[A-Za-z0-9_-]{22}$")
MESSAGE_ID = re.compile(r"^m_[A-Za-z0-9_-]{22}$")
PIN_ID = re.compile(r"^p_[A-Za-z0-9_-]{22}$")
ROLE_ID = re.compile(r"^r_[A-Za-z0-9_-]{22}$")  # a user's own role (built-in ones are preset-<name>)
FINE_TUNED_MODEL_ID = re.compile(r"^ft:[A-Za-z0-9._-]+(:[A-Za-z0-9._-]*){1,5}$")
BOT_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$")  # 3-40 characters, no leading/trailing '-'
KEY_ID = re.compile(r"^k_[A-Za-z0-9_-]{22}$")
