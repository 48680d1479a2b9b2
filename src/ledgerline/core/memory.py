"""Keeping the process's long-lived objects out of the cyclic garbage collector's way."""

from __future__ import annotations

import gc

_frozen = False


def freeze_startup_objects() -> None:
    """Move every object alive once the app has started (modules, the app, its routes, schemas
    and engine: some 150,000 objects) to the collector's permanent generation, once per process.

    A full collection walks every tracked object. Left there, these made each one a 60 ms pause,
    and a request that builds thousands of objects (a day trend over two years) triggers one
    every twenty or so requests: p99 74 ms against a p50 of 13 ms. Collected first, so no garbage
    is frozen with them; only the first app of a process (tests build many) freezes, so the
    objects of later ones stay collectable.
    """
    global _frozen  # noqa: PLW0603
    if _frozen:
        return
    gc.collect()
    gc.freeze()
    _frozen = True
