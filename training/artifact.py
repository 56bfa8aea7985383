"""Writes the model artifact: `models/<version>/{model.joblib,manifest.json}` and `models/CURRENT`.

Every file is written to a temp file, fsynced and renamed, and `CURRENT` (the one pointer the
service follows) is switched last, so a reader sees either the old model or the whole new one.
The previous version is kept so `make rollback` can point `CURRENT` back at it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib

from service.model.files import CURRENT_FILE, MANIFEST_FILE, MODEL_FILE, current_version, file_sha256

# mkstemp creates 0600 files; the service (a non-root user in Docker) must be able to read them.
PUBLISHED_MODE = 0o644


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """`write` fills a temp file beside `path`; it is fsynced, made readable and renamed over
    `path`, and the folder is fsynced: readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, PUBLISHED_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(payload))


def atomic_write_json(path: Path, payload: Any) -> None:
    atomic_write_bytes(path, (json.dumps(payload, indent=2, ensure_ascii=False) + "\n").encode())


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def data_fingerprint(data_dir: Path) -> str:
    """SHA-256 over the codebook and every article file (names and bytes), in a fixed order."""
    digest = hashlib.sha256()
    files = [data_dir / "codebook.toml", *sorted((data_dir / "articles").glob("*.txt"))]
    for path in files:
        digest.update(path.relative_to(data_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def save_artifact(models_dir: Path, version: str, model: Any, manifest: dict[str, Any]) -> Path:
    """Write the model and its manifest, switch CURRENT to it, prune all but the last versions."""
    folder = models_dir / version
    model_path = folder / MODEL_FILE
    atomic_write(model_path, lambda tmp: joblib.dump(model, tmp, compress=("xz", 6)))
    manifest = {**manifest, "model_file": MODEL_FILE, "model_sha256": file_sha256(model_path),
                "model_bytes": model_path.stat().st_size,
                "previous_version": current_version(models_dir)}
    atomic_write_json(folder / MANIFEST_FILE, manifest)
    atomic_write_bytes(models_dir / CURRENT_FILE, (version + "\n").encode())
    _prune(models_dir, keep={version, manifest["previous_version"]})
    return folder


def _prune(models_dir: Path, keep: set[str | None]) -> None:
    for folder in models_dir.iterdir():
        if folder.is_dir() and (folder / MANIFEST_FILE).exists() and folder.name not in keep:
            shutil.rmtree(folder)


def rollback(models_dir: Path) -> str:
    """Point CURRENT at the previous version; the service picks it up on its next reload."""
    version = current_version(models_dir)
    if version is None:
        raise SystemExit(f"no model in {models_dir}: run `make train` first")
    manifest = json.loads((models_dir / version / MANIFEST_FILE).read_text())
    previous = manifest.get("previous_version")
    if not previous or not (models_dir / previous / MANIFEST_FILE).exists():
        raise SystemExit(f"model {version} has no previous version on disk to roll back to")
    atomic_write_bytes(models_dir / CURRENT_FILE, (previous + "\n").encode())
    return f"CURRENT is now {previous} (was {version}); reload the service: POST /v1/admin/reload"
