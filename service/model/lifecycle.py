"""Owns the model: load, verify, hand out, swap.

A model is used only after its manifest's SHA-256 matches the file and the manifest's library
versions match this process (a pickle from another scikit-learn can load and then predict
wrongly). Requests take a reference to the current `LoadedModel` once and finish on it, so a
swap never changes a model under a request in flight; a failed reload leaves the old model
serving and is reported.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy
import sklearn

from service.model.classifier import ArticleClassifier, ArticleInput, classify_articles
from service.model.files import MANIFEST_FILE, current_version, file_sha256

log = logging.getLogger("pakrel.model")
_VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
RUNTIME_VERSIONS = {"scikit-learn": sklearn.__version__, "numpy": np.__version__,
                    "scipy": scipy.__version__, "joblib": joblib.__version__}


class ModelLoadError(Exception):
    """Why a model was refused, worded for the operator who has to fix it."""


@dataclass(frozen=True)
class LoadedModel:
    classifier: ArticleClassifier
    manifest: dict[str, Any]
    version: str
    loaded_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


def load_verified_model(model_dir: Path) -> LoadedModel:
    version = current_version(model_dir)
    if version is None:
        raise ModelLoadError(f"no model in {model_dir}: CURRENT is missing or empty; run `make train`")
    if not _VERSION_NAME.match(version):
        raise ModelLoadError(f"{model_dir}/CURRENT names {version!r}, which is not a model version folder")
    folder = model_dir / version
    manifest = _read_manifest(folder / MANIFEST_FILE)
    check_versions(manifest, version)
    model_path = folder / str(manifest.get("model_file", "model.joblib"))
    if not model_path.is_file():
        raise ModelLoadError(f"model {version}: file {model_path} is missing; retrain with `make train`")
    actual = file_sha256(model_path)
    if actual != manifest.get("model_sha256"):
        raise ModelLoadError(
            f"model {version}: checksum mismatch, manifest says {manifest.get('model_sha256')} but the file has "
            f"{actual}; the file is corrupt or was replaced: retrain with `make train` or restore it")
    try:
        classifier = joblib.load(model_path)
    except Exception as exc:
        raise ModelLoadError(f"model {version}: cannot be loaded ({type(exc).__name__}: {exc})") from exc
    if not isinstance(classifier, ArticleClassifier):
        raise ModelLoadError(f"model {version}: {model_path} holds a {type(classifier).__name__}, "
                             "not an ArticleClassifier")
    if classifier.codebook.sha256() != manifest.get("codebook_sha256"):
        raise ModelLoadError(f"model {version}: the codebook inside the model differs from its manifest")
    try:
        classify_articles(classifier, [ArticleInput("Pakistan and Japan signed an agreement.")])
    except Exception as exc:
        raise ModelLoadError(f"model {version}: failed its smoke test ({type(exc).__name__}: {exc})") from exc
    return LoadedModel(classifier, manifest, version)


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelLoadError(f"manifest {path} is missing; retrain with `make train`") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"manifest {path} is not valid JSON ({exc}); retrain with `make train`") from exc
    if not isinstance(manifest, dict):
        raise ModelLoadError(f"manifest {path} is not a JSON object; retrain with `make train`")
    return manifest


def check_versions(manifest: dict[str, Any], version: str) -> None:
    recorded = manifest.get("versions") or {}
    for package, running in RUNTIME_VERSIONS.items():
        wanted = recorded.get(package)
        if wanted != running:
            raise ModelLoadError(
                f"model {version} was trained with {package} {wanted}, this process has {running}: "
                f"retrain with `make train` or `pip install {package}=={wanted}`")


class ModelHolder:
    """The one place the served model lives. Reloads are serialised; reads never wait."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir
        self._current: LoadedModel | None = None
        self._reload_lock = threading.Lock()
        self.last_error: str | None = None
        self.last_reload_at: str | None = None

    @property
    def current(self) -> LoadedModel | None:
        return self._current

    def reload(self) -> LoadedModel:
        """Load the newest model, verify it, then swap; on failure keep serving the old one."""
        with self._reload_lock:
            started = time.perf_counter()
            self.last_reload_at = datetime.now(UTC).isoformat(timespec="seconds")
            try:
                loaded = load_verified_model(self.model_dir)
            except ModelLoadError as exc:
                self.last_error = str(exc)
                log.error("model reload failed, still serving %s: %s",
                          self._current.version if self._current else "nothing", exc)
                raise
            previous = self._current
            self._current = loaded
            self.last_error = None
            log.info("model %s loaded in %.2fs (was %s)", loaded.version, time.perf_counter() - started,
                     previous.version if previous else "none")
            return loaded
