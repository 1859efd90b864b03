"""Pause the cyclic garbage collector while a query builds many short-lived objects.

Funnels and flows over a million events allocate a few hundred thousand small lists and
tuples that die with the query and hold no reference cycles; the collector's passes
over them cost about a third of the query time. Reference counting still frees them;
the collector is re-enabled when the last running query ends (a counter, since several
requests may query at once), and cycles made meanwhile are collected then.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_running = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    global _running, _was_enabled
    with _lock:
        if _running == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and _was_enabled:
                gc.enable()
