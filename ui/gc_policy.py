"""Garbage collection around bursts of long-lived objects: start-up, and filling a big session's canvas.

Both allocate a burst of objects that live as long as the window or the session: modules, the
session's nodes, the scene's index and ~10,000 card items. CPython's cyclic collector scans its
oldest generation each time that generation has grown by a quarter, so it scans the growing heap
again and again during the burst. For a 10,000-card session, that measured ~40 ms more start-up and
full collections of 60, 90, 105 and 145 ms while the canvas filled in during the first two seconds.
Those are stalls the user sees.

So the collector is paused for the burst, for as long as any reason to pause holds: "start-up",
until the window has painted; "fill", until the scene has made every card. When the last reason
ends, everything allocated so far is frozen (`gc.freeze`, O(1)) and the collector resumed. Frozen
objects are never scanned again and are still freed by reference counting when dropped: cards and
nodes hold no reference cycles (measured: a cleared 3,000-card scene left nothing for the
collector). The price: garbage that is *cyclic* at that moment is never collected. At start-up that
was ~700 objects (import-time leftovers), once; collecting them first would cost a 150 ms stall.
Measured on the 10,000-card session: no collection at all in the first 8 s, where there were four
full ones of 60–145 ms.

`resume_all` ends every reason; ui.app calls it after a while whatever happens, so a burst that never
reports its end cannot leave the collector off.

Off unless `enable()` was called: ui/launch.py does, for the app's own process. Tests and embedders
that build windows themselves keep the collector as they set it.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

_reasons: set[str] = set()
_paused = False  # we turned the collector off (it was on)
_enabled = False


def enable() -> None:
    global _enabled
    _enabled = True


def pause(reason: str) -> None:
    global _paused
    if not _enabled:
        return
    _reasons.add(reason)
    if not _paused and gc.isenabled():
        gc.disable()
        _paused = True


def resume(reason: str) -> None:
    _reasons.discard(reason)
    if not _reasons:
        _finish()


def resume_all() -> None:
    _reasons.clear()
    _finish()


def paused() -> bool:
    return _paused


def _finish() -> None:
    global _paused
    if not _paused:
        return
    _paused = False
    gc.freeze()
    gc.enable()
    log.debug("cyclic garbage collector resumed, start-up's objects frozen")
