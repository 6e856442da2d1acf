"""pytest plugin (`-p tests.block_qt`): make PySide6/shiboken6/qasync unimportable, so the app and
storage tests prove the Qt-free core really runs without Qt."""

import importlib.abc
import sys

BLOCKED = ("PySide6", "shiboken6", "qasync")


class _BlockQt(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):  # type: ignore[no-untyped-def]
        if fullname.split(".")[0] in BLOCKED:
            raise ImportError(f"{fullname} is blocked in the Qt-free test run")
        return None


sys.meta_path.insert(0, _BlockQt())
for name in list(sys.modules):
    if name.split(".")[0] in BLOCKED:
        del sys.modules[name]
