#!/usr/bin/env bash
# The standalone bundle for people without Python: a PyInstaller folder build (dist/triptych/, started
# with dist/triptych/triptych) and a .tar.gz of it (dist/triptych-VERSION-linux-ARCH.tar.gz).
#   bash scripts/package.sh [--dist DIR]     (default dist/)
# Why PyInstaller (folder mode): it installs from PyPI with its bootloader inside the wheel and builds
# from the .venv in a minute or two with nothing else to download. pyside6-deploy drives Nuitka, which
# compiles every module to C (tens of minutes on 2 cores) and may fetch extra tools (ccache, patchelf,
# dependency walkers) from outside PyPI; onefile mode would unpack ~150 MB on every start.
set -euo pipefail
cd "$(dirname "$0")/.."
dist=dist
while [ $# -gt 0 ]; do
  case "$1" in
    --dist) dist=$2; shift 2 ;;
    --dist=*) dist=${1#--dist=}; shift ;;
    *) echo "usage: bash scripts/package.sh [--dist DIR]" >&2; exit 2 ;;
  esac
done
pyinstaller_version=6.22.3

[ -x .venv/bin/python ] || bash scripts/bootstrap.sh run
if ! .venv/bin/python -c "import PyInstaller, sys; sys.exit(PyInstaller.__version__ != '$pyinstaller_version')" 2>/dev/null; then
  echo "Installing pyinstaller==$pyinstaller_version into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check "pyinstaller==$pyinstaller_version"
fi

version=$(.venv/bin/python -c "import app; print(app.__version__)")
arch=$(uname -m)
work=build/pyinstaller
mkdir -p "$dist" "$work"
dist=$(cd "$dist" && pwd)
rm -rf "$dist/triptych"

# Modules imported by name at run time (pygments' lexers and styles, the app's lazily imported
# modules), data files read through importlib.resources (the catalog, icons, AppStream file; ziamath's
# fonts) and the Qt modules the app never uses (left out: about 40% of the size).
QT_UNUSED=(QtQml QtQuick QtQuickWidgets QtQuick3D QtQmlModels QtQmlMeta QtQmlWorkerScript QtPdf QtPdfWidgets
           QtWebEngineCore QtWebEngineWidgets QtWebChannel QtWebSockets QtMultimedia QtMultimediaWidgets
           QtSql QtTest QtDesigner QtHelp QtUiTools QtCharts QtDataVisualization QtGraphs QtLocation
           QtPositioning QtBluetooth QtNfc QtSensors QtSerialPort QtRemoteObjects QtScxml QtStateMachine
           QtTextToSpeech QtSpatialAudio Qt3DCore Qt3DRender Qt3DInput Qt3DLogic Qt3DAnimation Qt3DExtras
           QtOpenGLWidgets QtConcurrent QtNetworkAuth QtHttpServer QtAxContainer)
excludes=(--exclude-module tkinter --exclude-module tests --exclude-module pytest)
for m in "${QT_UNUSED[@]}"; do excludes+=(--exclude-module "PySide6.$m"); done

QT_QPA_PLATFORM=offscreen .venv/bin/python -m PyInstaller --noconfirm --clean --log-level WARN \
  --onedir --name triptych --distpath "$dist" --workpath "$work" --specpath "$work" \
  --paths "$PWD" \
  --collect-submodules app --collect-submodules storage --collect-submodules ui \
  --collect-data resources --collect-submodules pygments \
  --collect-data ziamath --collect-data ziafont --collect-data latex2mathml \
  --copy-metadata pyside6-essentials --copy-metadata qasync \
  "${excludes[@]}" \
  packaging/pyinstaller/triptych.py

tarball="$dist/triptych-$version-linux-$arch.tar.gz"
tar -C "$dist" -czf "$tarball" triptych
size=$(du -sm "$dist/triptych" | cut -f1)
echo "bundle: $dist/triptych ($size MB), archive: $tarball ($(du -m "$tarball" | cut -f1) MB)"
