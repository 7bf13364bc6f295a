"""The cycle collector's youngest threshold while trimcp serves HTTP.

CPython collects its youngest generation once 700 more container objects (coroutines,
dicts, instances...) have been made than freed since the last collection. A server holds the
objects of every request in flight: its task and coroutines, its ASGI scope and headers, its
context. With a few dozen requests in flight that is more than 700, so the count climbs
past the threshold as requests come and go (the objects freed after a collection were
counted in the generation they were promoted to, not in the youngest). A young collection
then runs every few dozen requests; it finds no garbage, since the requests are alive, and
promotes their objects, so the older generations fill and are collected too, up to full
collections of the whole heap.

Measured with trimcp's `http_app()` on uvicorn (32 connections, `bench/http_bench.py`):
a young collection every 37 requests and a full one every 4,500, 9% of the server's CPU;
the threshold at 2,000 gives 1.11-1.16x the requests per second (paired rounds). The same
server answering from a bare ASGI app (fewer objects per request) never collects.

So while trimcp serves HTTP (`run_http`, `serve_asgi`: the process is a server then), the
youngest threshold is `settings.http_gc_threshold` (2,000 by default) -- if it is
CPython's default of 700. Any other value is the application's own choice, and left alone,
as is everything when the setting is 0 (`TRIMCP_HTTP_GC_THRESHOLD=0`). The older thresholds
are not touched, nor is `gc.enable()`/`gc.disable()`. When the last server in the process
stops, the threshold goes back to what it was, unless something changed it meanwhile.
An app served by another server (`http_app()` mounted in a user's uvicorn) changes nothing.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

from trimcp.settings import settings

__all__ = ["CPYTHON_YOUNG_THRESHOLD", "serving_gc"]

CPYTHON_YOUNG_THRESHOLD = 700  # CPython's default through 3.13

_lock = threading.Lock()  # servers may run in several threads of one process
_serving = 0  # servers running now (nested: `run_http` serves through `serve_asgi`)
_saved: tuple[int, ...] | None = None  # the thresholds before the first server raised them
_ours = 0  # the youngest threshold set here


@contextlib.contextmanager
def serving_gc() -> Iterator[None]:
    """While a trimcp HTTP server runs: the youngest threshold raised as the module says."""
    global _serving, _saved, _ours
    with _lock:
        if _serving == 0:
            wanted = settings.http_gc_threshold
            current = gc.get_threshold()
            if wanted > 0 and current[0] == CPYTHON_YOUNG_THRESHOLD:
                gc.set_threshold(wanted, *current[1:])
                _saved, _ours = current, wanted
        _serving += 1
    try:
        yield
    finally:
        with _lock:
            _serving -= 1
            if _serving == 0 and _saved is not None:
                if gc.get_threshold()[0] == _ours:  # else the application has set its own
                    gc.set_threshold(*_saved)
                _saved = None
