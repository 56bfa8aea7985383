"""Virtualenvs the benchmark serves from, built once and reused.

The service is measured as the image installs it (`pip install .`, no extras): the dev venv also
holds the bulk extras, and scikit-learn imports pyarrow whenever it is installed, which alone adds
about 45 MB to every worker. Peers a user would pick instead (MLServer) pin versions of FastAPI and
uvloop that cannot share a venv with ours, so each gets its own as well.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from service.settings import ROOT

VENVS_DIR = ROOT / "bench" / ".venvs"
CONSTRAINTS = ROOT / "constraints.txt"
STAMP = ".bench-stamp"


def ensure_venv(name: str, requirements: Sequence[str], constrained: bool = True) -> Path:
    """The python of venv `name` holding `requirements` (pip arguments, e.g. "-e", "."), creating or
    refreshing it when the requirements or constraints.txt changed since it was built.

    `constrained` pins through constraints.txt, as the image does; a peer with its own pins turns it off."""
    folder = VENVS_DIR / name
    python = folder / "bin" / "python"
    pins = ["-c", str(CONSTRAINTS)] if constrained else []
    wanted = _fingerprint([*pins, *requirements])
    stamp = folder / STAMP
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"[bench] building {folder} (once; reused while its requirements stay the same)", file=sys.stderr,
          flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    *pins, *requirements], check=True, cwd=ROOT)
    stamp.write_text(wanted)
    return python


def serving_python() -> Path:
    """The service installed as the Docker image installs it: the project, no extras (editable, so the
    benchmark measures the working tree)."""
    return ensure_venv("serve", ["-e", "."])


def _fingerprint(arguments: Sequence[str]) -> str:
    digest = hashlib.sha256("\0".join(arguments).encode())
    if CONSTRAINTS.exists():
        digest.update(CONSTRAINTS.read_bytes())
    digest.update((ROOT / "pyproject.toml").read_bytes())
    return digest.hexdigest()
