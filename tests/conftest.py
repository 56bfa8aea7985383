"""Shared fixtures: a tiny corpus and a tiny model trained on it in a temp dir, and apps on it.

The tiny model is trained by the real training pipeline (`--fast`: one candidate) on a sample
of the shipped corpus, once per test session, so service tests exercise real artifacts.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.settings import Settings
from tests.postgres_server import PostgresUnavailable, new_database, postgres_server

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SEEDS = ROOT.parent / "shared" / "seeds"

# A small, fixed, varied sample: every stance, several partners, some out of scope.
TINY_CORPUS_PREFIXES = ("seed-", "oos-", "cn-", "sa-", "gulf-", "dev-", "w6-")
TINY_PER_PREFIX = 6


def copy_tiny_corpus(target: Path) -> Path:
    (target / "articles").mkdir(parents=True)
    shutil.copy(DATA / "codebook.toml", target / "codebook.toml")
    shutil.copy(DATA / "partners.toml", target / "partners.toml")
    for prefix in TINY_CORPUS_PREFIXES:
        for path in sorted((DATA / "articles").glob(f"{prefix}*.txt"))[:TINY_PER_PREFIX]:
            shutil.copy(path, target / "articles" / path.name)
    return target


def train_tiny(data_dir: Path, models_dir: Path, seed: int = 13, learning_curve: bool = False) -> str:
    from training.pipeline_run import run_training

    assert run_training(data_dir, models_dir, seed=seed, fast=True, feedback_dir=data_dir / "feedback",
                        learning_curve=learning_curve) == 0
    return (models_dir / "CURRENT").read_text().strip()


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_tiny_corpus(tmp_path_factory.mktemp("tiny-data"))


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> Path:
    """Read-only for tests: copy it (`model_dir_copy`) before changing anything inside."""
    models = tmp_path_factory.mktemp("tiny-models")
    train_tiny(tiny_data_dir, models, learning_curve=True)
    return models


@pytest.fixture
def model_dir_copy(tmp_path: Path, tiny_models_dir: Path) -> Path:
    target = tmp_path / "models"
    shutil.copytree(tiny_models_dir, target)
    return target


@pytest.fixture
def settings(tmp_path: Path, model_dir_copy: Path) -> Settings:
    return Settings(model_dir=model_dir_copy, feedback_dir=tmp_path / "feedback")


# A client on loopback, as on the analyst's own machine: with no API key configured, admin and feedback
# endpoints answer only loopback clients (Starlette's default test client address is not an IP).
LOOPBACK = ("127.0.0.1", 50000)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), client=LOOPBACK) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def seed_text() -> str:
    """A seed article as an analyst would paste it (raw, page furniture included)."""
    return (SEEDS / "002_17d101479c6c7db1.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """One real PostgreSQL server for the session. Without the binaries the tests skip, except with
    CI=true, where they fail: the shared store is one of the two ways the service keeps corrections."""
    try:
        with postgres_server() as url:
            yield url
    except PostgresUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the PostgreSQL tests cannot run: {exc}", pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture
def postgres_url(postgres_server_url: str) -> str:
    """An empty database of this test's own."""
    return new_database(postgres_server_url)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a feedback store lives, for each backend: an SQLite folder, a PostgreSQL URL."""
    if request.param == "sqlite":
        return tmp_path / "feedback"
    return request.getfixturevalue("postgres_url")
