"""The Dask engine of `pakrel-bulk`: the same partitions and the same labelling, on a cluster.

The model file and its manifest are scattered to every worker once, as bytes (workers need not
see this machine's disk); each worker writes them to a temporary model folder and loads them
with `load_verified_model`, which checks the SHA-256 against the manifest there, and keeps the
loaded model for all its tasks. Each task labels one partition with `label_partition`, reading
its byte range of the archive itself, so the archive must be at the same path on every worker
(a shared filesystem). Results come back to this process, which writes them in input order.

`dask[distributed]` is an optional extra, so dask is imported only inside these functions.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.bulk.archive import BulkError, Partition
from service.bulk.partition import PartitionResult, WorkerSetup, label_partition, results_in_order
from service.model.files import CURRENT_FILE, MANIFEST_FILE, MODEL_FILE
from service.model.lifecycle import LoadedModel, ModelLoadError, load_verified_model


@dataclass(frozen=True)
class ModelPackage:
    """A verified model version as bytes, to rebuild a model folder anywhere."""

    version: str
    model_file: str
    manifest: bytes
    model: bytes


def package_model(loaded: LoadedModel, model_dir: Path) -> ModelPackage:
    folder = model_dir / loaded.version
    model_file = str(loaded.manifest.get("model_file", MODEL_FILE))
    return ModelPackage(loaded.version, model_file, (folder / MANIFEST_FILE).read_bytes(),
                        (folder / model_file).read_bytes())


_models: dict[str, LoadedModel] = {}
_models_lock = threading.Lock()


def worker_model(package: ModelPackage) -> LoadedModel:
    """The package's model, loaded and verified once per worker process (tasks may share threads)."""
    with _models_lock:
        loaded = _models.get(package.version)
        if loaded is None:
            with tempfile.TemporaryDirectory(prefix="pakrel-model-") as folder:
                model_dir = Path(folder)
                (model_dir / package.version).mkdir()
                (model_dir / package.version / MANIFEST_FILE).write_bytes(package.manifest)
                (model_dir / package.version / package.model_file).write_bytes(package.model)
                (model_dir / CURRENT_FILE).write_text(package.version)
                loaded = load_verified_model(model_dir)
            _models[package.version] = loaded
        return loaded


def _label_on_worker(partition: Partition, package: ModelPackage, setup: WorkerSetup) -> PartitionResult:
    return label_partition(worker_model(package), partition, setup)


def dask_results(partitions: list[Partition], loaded: LoadedModel, setup: WorkerSetup, scheduler: str | None,
                 local_workers: int) -> Iterator[PartitionResult]:
    """Partition results in input order from the cluster at `scheduler`, or from a local cluster
    of `local_workers` single-threaded worker processes (the model holds the GIL while it works)."""
    distributed = _distributed()
    with _client(distributed, scheduler, local_workers) as client:
        package = client.scatter([package_model(loaded, setup.settings.model_dir)], broadcast=True)[0]
        shared_setup = client.scatter([setup], broadcast=True)[0]
        window = 2 * max(1, sum(client.nthreads().values()))

        def submit(partition: Partition) -> Any:
            return client.submit(_label_on_worker, partition, package, shared_setup, pure=False)

        try:
            yield from results_in_order(submit, partitions, window)
        except ModelLoadError as exc:
            raise ModelLoadError(f"on a Dask worker: {exc}") from exc


@contextmanager
def _client(distributed: Any, scheduler: str | None, local_workers: int) -> Iterator[Any]:
    if scheduler is None:
        with (distributed.LocalCluster(n_workers=local_workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.ERROR) as cluster,
              distributed.Client(cluster) as client):
            yield client
        return
    try:
        client = distributed.Client(scheduler, timeout="30s")
        client.wait_for_workers(1, timeout=120)
    except (OSError, TimeoutError) as exc:
        raise BulkError(f"cannot use the Dask scheduler at {scheduler} ({exc}): check the address, "
                        "and that at least one worker is connected") from exc
    with client:
        yield client


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise BulkError("--engine dask needs dask.distributed: pip install 'pakrel-classifier[dask]'") from exc
    return distributed
