"""Every setting of the service, read from the environment (prefix PAKREL_) in one typed object.

The README's settings table is this class; tests build their own instance and pass it to
`create_app`, so nothing reads the environment behind their back.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAKREL_", extra="ignore")

    model_dir: Path = Field(ROOT / "models", description="Folder holding CURRENT and the model versions.")
    feedback_dir: Path = Field(ROOT / "data" / "feedback", description="Where analysts' corrections are stored.")
    max_text_chars: int = Field(100_000, ge=1, description="Longest accepted article text, in characters.")
    max_paragraphs: int = Field(10_000, ge=1, description="Most paragraphs accepted in one article.")
    max_batch_items: int = Field(64, ge=1, description="Most articles in one batch request.")
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024,
                                description="Request bodies larger than this are refused before being read whole.")
    api_key: SecretStr | None = Field(None, description="When set, admin and feedback-listing endpoints need it.")
    protect_all: bool = Field(False, description="With an API key set, require it on every /v1 endpoint too.")
    log_level: str = Field("INFO", description="Log level of the service's structured logs.")
