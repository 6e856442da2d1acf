"""The cyclic garbage collector during start-up: off until the window has painted, then on again.

Start-up allocates a burst of long-lived objects (modules, the window, the session's outline and the
cards in view). CPython's cyclic collector scans its oldest generation each time that generation
has grown by a quarter, so it would scan the growing heap again and again before the first paint.
So the collector is paused while any reason to pause holds ("start-up": until the canvas has
painted) and simply re-enabled afterwards. Nothing is frozen: every cycle made during the pause is
collected by the first collections after it (a `gc.freeze()` here used to leak every cycle created
during the pause, for the life of the process).

Opening a session no longer pauses it: only the cards the view shows are made (ui/canvas/loader.py),
not a burst of thousands.

`resume_all` ends every reason; ui.app calls it after a while whatever happens, so a pause whose end
is never reported cannot leave the collector off.

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
    gc.enable()
    log.debug("cyclic garbage collector resumed")
