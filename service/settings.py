"""Every setting of the service, read from the environment (prefix PAKREL_) in one typed object.

The README's settings table is this class; tests build their own instance and pass it to
`create_app`, so nothing reads the environment behind their back.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import Field, PrivateAttr, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.feedback.store import is_url

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_KEY_NAME = "default"
_KEY_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
NO_KEY_WARNING = ("no API key is configured (PAKREL_API_KEY, PAKREL_API_KEYS): admin endpoints and reading or "
                  "posting corrections answer only clients on loopback; set a key to open them to others")
# Set by the launcher (`service.api.serve`), which logs NO_KEY_WARNING once for all its workers.
WARNED_ENV = "PAKREL_STARTUP_WARNED"
# prometheus-client reads it when first imported: the launcher sets it before any worker imports that.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAKREL_", extra="ignore")

    model_dir: Path = Field(ROOT / "models", description="Folder holding CURRENT and the model versions.")
    model_poll_seconds: float = Field(2.0, ge=0, description="How often each worker stats CURRENT and hot-swaps "
                                                             "when it changed; 0 turns the poll off.")
    feedback_dir: Path = Field(ROOT / "data" / "feedback", description="Where analysts' corrections are stored.")
    feedback_url: SecretStr | None = Field(None, description="postgresql://... : store corrections in PostgreSQL, "
                                                             "shared by every replica, instead of feedback_dir.")
    max_text_chars: int = Field(100_000, ge=1, description="Longest accepted article text, in characters.")
    max_paragraphs: int = Field(10_000, ge=1, description="Most paragraphs accepted in one article.")
    max_batch_items: int = Field(64, ge=1, description="Most articles in one batch request.")
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024,
                                description="Request bodies larger than this are refused before being read whole.")
    # 64 clients all on one worker, and as many requests again whose clients hung up before their turn
    # (they are dropped, not classified, when it comes, but hold their place until then).
    max_queue: int = Field(128, ge=1, description="Classify requests one worker holds (running and waiting); "
                                                  "beyond it a request gets 503 with Retry-After at once.")
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1,
                         description="Worker processes started by `python -m service.api.serve`.")
    api_key: SecretStr | None = Field(None, description="One key (named 'default'): admin, feedback listing and "
                                                        "posting need it.")
    api_keys: SecretStr | None = Field(None, description="Named keys `alice:KEY,bob:KEY`; posted corrections "
                                                         "record the name.")
    protect_all: bool = Field(False, description="With an API key set, require it on every /v1 endpoint too.")
    access_log: bool = Field(True, description="One JSON line per request on the pakrel.access logger.")
    log_level: str = Field("INFO", description="Log level of the service's structured logs.")

    _named_keys: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _keys_are_well_formed(self) -> Settings:
        self._named_keys = self._parse_named_keys()
        if self.feedback_url is not None and not is_url(self.feedback_url.get_secret_value()):
            raise ValueError("PAKREL_FEEDBACK_URL must start with postgresql:// (leave it unset for the "
                             "embedded SQLite store in PAKREL_FEEDBACK_DIR)")
        return self

    def named_keys(self) -> dict[str, str]:
        """{name: key} of every configured key; empty means no key is configured (closed to non-loopback).
        Parsed once, when the settings are read: every admin and feedback request asks."""
        return self._named_keys

    def _parse_named_keys(self) -> dict[str, str]:
        keys: dict[str, str] = {}
        if self.api_key is not None and self.api_key.get_secret_value():
            keys[DEFAULT_KEY_NAME] = self.api_key.get_secret_value()
        if self.api_keys is not None:
            for entry in filter(None, (e.strip() for e in self.api_keys.get_secret_value().split(","))):
                name, sep, key = entry.partition(":")
                name, key = name.strip(), key.strip()
                if not sep or not key or not _KEY_NAME.match(name):
                    raise ValueError(f"PAKREL_API_KEYS entry {name!r} is not `name:key` (name of letters, digits, "
                                     "._@-; a non-empty key): write PAKREL_API_KEYS=alice:KEY1,bob:KEY2")
                if name in keys:
                    raise ValueError(f"PAKREL_API_KEYS names {name!r} twice (or also as PAKREL_API_KEY's "
                                     f"'{DEFAULT_KEY_NAME}'): give every key its own name")
                if key in keys.values():
                    raise ValueError(f"PAKREL_API_KEYS gives {name!r} a key already used by another name: "
                                     "every contributor needs a key of their own")
                keys[name] = key
        return keys

    def feedback_location(self) -> Path | str:
        """Where the feedback store lives: a PostgreSQL URL, or the SQLite folder."""
        return self.feedback_url.get_secret_value() if self.feedback_url is not None else self.feedback_dir
