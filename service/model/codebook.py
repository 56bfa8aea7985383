"""The label set, read from `data/codebook.toml` by training and carried inside the model.

It lives in `service/` because the service needs the same type to describe the loaded model's
labels, and `service/` must never import `training/`. Only the standard library is used so that
corpus validation runs before any dependency is installed.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Label:
    id: str
    name: str
    definition: str
    includes: str = ""
    excludes: str = ""


@dataclass(frozen=True)
class EventType:
    """A kind of news event the corpus must cover, with the article stances it can carry."""

    id: str
    stances: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class Codebook:
    version: str
    topics: tuple[Label, ...]
    stances: tuple[Label, ...]
    scope: dict[str, str]
    article_rules: dict[str, str] = field(default_factory=dict)
    styles: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    events: tuple[EventType, ...] = ()
    census_minimum: int = 0

    @property
    def event_ids(self) -> list[str]:
        return [event.id for event in self.events]

    @property
    def topic_ids(self) -> list[str]:
        return [label.id for label in self.topics]

    @property
    def stance_ids(self) -> list[str]:
        return [label.id for label in self.stances]

    @property
    def neutral_stance(self) -> str:
        """The stance an out-of-scope article gets; by convention the middle one of three."""
        return "neutral" if "neutral" in self.stance_ids else self.stance_ids[len(self.stances) // 2]

    def to_dict(self) -> dict[str, Any]:
        """Without the corpus census fields when they are unset, so models trained before the
        census existed keep the codebook hash their manifest records."""
        raw = asdict(self)
        if not self.events and not self.census_minimum:
            del raw["events"], raw["census_minimum"]
        return raw

    def sha256(self) -> str:
        """Hash of the label set and definitions, so a model records exactly which codebook it learned."""
        blob = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Codebook:
        corpus = raw.get("corpus", {})
        return cls(
            version=str(raw.get("version", "")),
            topics=tuple(Label(**t) for t in raw["topics"]),
            stances=tuple(Label(**s) for s in raw["stances"]),
            scope=dict(raw.get("scope", {})),
            article_rules=dict(raw.get("article_rules", {})),
            styles=tuple(raw.get("styles", corpus.get("styles", ()))),
            sources=tuple(raw.get("sources", corpus.get("sources", ()))),
            events=tuple(EventType(e["id"], tuple(e["stances"]), e.get("description", ""))
                         for e in raw.get("events", ())),
            census_minimum=int(raw.get("census_minimum", raw.get("census", {}).get("minimum", 0))),
        )


class CodebookError(ValueError):
    """The codebook file itself is unusable; nothing can be validated against it."""


def load_codebook(path: Path) -> Codebook:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CodebookError(f"{path}: codebook not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CodebookError(f"{path}: not valid TOML ({exc})") from exc
    try:
        codebook = Codebook.from_dict(raw)
    except (KeyError, TypeError) as exc:
        raise CodebookError(
            f"{path}: every [[topics]] and [[stances]] entry needs id, name and definition ({exc})"
        ) from exc
    ids = codebook.topic_ids + codebook.stance_ids
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise CodebookError(f"{path}: label ids must be unique, repeated: {', '.join(duplicates)}")
    if len(codebook.stances) < 2 or not codebook.topics:
        raise CodebookError(f"{path}: needs at least one topic and two stances")
    return codebook
