"""glibc's allocator, reached through ctypes: the two knobs a long-lived worker needs.

A worker that has just held 64 queued batch requests (their parsed bodies, the classification's
sparse matrices) keeps the freed memory in its heap; glibc returns only the top of the heap on its
own. Both calls do nothing where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
from contextlib import suppress

_M_ARENA_MAX = -8


def _glibc() -> ctypes.CDLL | None:
    with suppress(OSError):
        return ctypes.CDLL("libc.so.6")
    return None


_LIBC = _glibc()


def limit_arenas(arenas: int) -> None:
    """This process's malloc arenas (MALLOC_ARENA_MAX applies only to processes started after it is set)."""
    if _LIBC is not None:
        with suppress(AttributeError):
            _LIBC.mallopt(_M_ARENA_MAX, arenas)


def release_freed_memory() -> None:
    """Hand every free page of the heap back to the system (malloc_trim(0)); ctypes drops the GIL for it."""
    if _LIBC is not None:
        with suppress(AttributeError):
            _LIBC.malloc_trim(0)
