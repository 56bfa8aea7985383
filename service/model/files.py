"""Names and small readers for the model folder, shared by the writer (training) and the loader."""

from __future__ import annotations

import hashlib
from pathlib import Path

CURRENT_FILE = "CURRENT"
MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"


def current_version(models_dir: Path) -> str | None:
    try:
        version = (models_dir / CURRENT_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    return version or None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
