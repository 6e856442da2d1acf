"""The asyncio event loop the app and the GUI tests run on: qasync's QEventLoop, fixed up.

Threading: everything here runs on the Qt main thread, which is also the asyncio loop thread.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

os.environ.setdefault("QT_API", "pyside6")

import qasync

if TYPE_CHECKING:
    from PySide6.QtCore import QCoreApplication


class TriptychEventLoop(qasync.QEventLoop):
    """qasync's loop plus the async-generator hooks that asyncio's own loops install.

    # WORKAROUND: qasync 0.28 installs no asyncgen hooks, so an async generator abandoned mid-way
    # (breaking out of an httpx stream on Stop) is finalised by the GC and logs
    # "async generator ignored GeneratorExit". Install the base loop's hooks while we run.
    """

    def _before_run_forever(self) -> None:
        super()._before_run_forever()
        # sys._asyncgen_hooks is typeshed's name for the struct sequence (annotation only).
        self._saved_asyncgen_hooks: sys._asyncgen_hooks | None = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(
            firstiter=self._asyncgen_firstiter_hook, finalizer=self._asyncgen_finalizer_hook
        )

    def _after_run_forever(self) -> None:
        saved = getattr(self, "_saved_asyncgen_hooks", None)
        if saved is not None:
            sys.set_asyncgen_hooks(*saved)
            self._saved_asyncgen_hooks = None
        super()._after_run_forever()


def loop_factory(app: QCoreApplication | None = None) -> TriptychEventLoop:
    """A zero-argument-compatible factory for `asyncio.Runner(loop_factory=...)`."""
    return TriptychEventLoop(app)
