"""Built-in roles, from an operator-editable YAML file, in the caller's language."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from rolechat_common.config import ConfigError

DEFAULT_FILE = Path(__file__).with_name("presets.yaml")
LANGUAGES = ("en", "ja")
PRESET_ID = re.compile(r"^[a-z0-9-]{1,40}$")
PREFIX = "preset-"


@dataclass(frozen=True)
class Preset:
    id: str                      # "preset-<slug>"
    names: dict
    instructions: dict
    temperature: float | None = None

    def to_json(self, language: str) -> dict:
        return {"id": self.id, "name": self.names[language], "instructions": self.instructions[language],
                "builtin": True, "language": language, "model": "", "temperature": self.temperature,
                "max_answer_tokens": None}


def load(path: str | None) -> dict[str, Preset]:
    where = Path(path) if path else DEFAULT_FILE
    try:
        data = yaml.safe_load(where.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"ROLE_PRESETS_FILE {str(where)!r} cannot be read as YAML ({type(exc).__name__})") from None
    entries = (data or {}).get("presets") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError("ROLE_PRESETS_FILE must hold a 'presets' list")
    presets: dict[str, Preset] = {}
    for entry in entries:
        slug = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(slug, str) or not PRESET_ID.match(slug) or PREFIX + slug in presets:
            raise ConfigError("ROLE_PRESETS_FILE: every preset needs a unique 'id' of lowercase letters, digits "
                              "and hyphens")
        names, texts = entry.get("name"), entry.get("instructions")
        for what, value in (("name", names), ("instructions", texts)):
            if not isinstance(value, dict) or not all(isinstance(value.get(lang), str) and value[lang].strip()
                                                      for lang in LANGUAGES):
                raise ConfigError(f"ROLE_PRESETS_FILE: preset {slug!r} needs '{what}' in en and ja")
        temperature = entry.get("temperature")
        if temperature is not None and (isinstance(temperature, bool) or not isinstance(temperature, (int, float))
                                        or not 0 <= temperature <= 2):
            raise ConfigError(f"ROLE_PRESETS_FILE: preset {slug!r} has a temperature outside 0-2")
        presets[PREFIX + slug] = Preset(PREFIX + slug, dict(names), dict(texts), temperature)
    return presets


def language(accept_language: str | None) -> str:
    """The first supported language of an Accept-Language header, by quality; English otherwise."""
    best, best_q = "en", -1.0
    for i, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower().split("-")[0]
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        if lang in LANGUAGES and q > best_q and q > 0:
            best, best_q = lang, q - i * 1e-6
    return best
