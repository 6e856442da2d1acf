#!/usr/bin/env bash
# Set-up for a bare Debian 12 machine (root, only Python 3.11): Debian packages Qt needs (when missing),
# the .venv, and the project installed in it. Fast when already done.
#   scripts/bootstrap.sh run    runtime packages, fonts and an X server for the window
#   scripts/bootstrap.sh test   what the test suite needs (offscreen Qt, dev tools, the SDKs bench 3 compares with)
#   scripts/bootstrap.sh bench  test set-up plus the official SDKs the benchmarks compare against
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-run}

# Qt 6.11 (xcb and offscreen platforms) runtime libraries, Xvfb for a window without a display, fonts.
qt_pkgs=(libegl1 libgl1 libopengl0 libfontconfig1 libfreetype6 libxkbcommon0 libxkbcommon-x11-0 libdbus-1-3
         libglib2.0-0 libx11-xcb1 libxrender1 libxi6 libsm6 libice6 libxcb1 libxcb-cursor0 libxcb-icccm4
         libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render0 libxcb-render-util0 libxcb-shape0
         libxcb-shm0 libxcb-sync1 libxcb-xfixes0 libxcb-xinerama0 libxcb-xkb1 xvfb xauth fonts-dejavu-core)
run_pkgs=(fonts-noto-color-emoji fonts-noto-cjk x11-utils)
# The X session test (tests/ui/test_xsession.py) drives the real window on Xvfb as a user: xdotool for
# keys and clicks, ImageMagick's `import` for screenshots on failure.
# The team store tests (tests/pgcluster.py) start a throwaway PostgreSQL cluster: Debian's server binaries.
# tests/app/test_desktop.py validates what `triptych desktop install` writes with desktop-file-validate
# and appstreamcli.
test_pkgs=(xdotool imagemagick x11-utils postgresql desktop-file-utils appstream)
pkgs=("${qt_pkgs[@]}")
[ "$what" = run ] && pkgs+=("${run_pkgs[@]}")
[ "$what" != run ] && pkgs+=("${test_pkgs[@]}")

if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing Debian packages: ${missing[*]}"
    if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
      echo "Need root (or sudo) to install: ${missing[*]}" >&2; exit 1; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

py=""
for c in python3.11 python3; do
  if command -v "$c" >/dev/null && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then py=$c; break; fi
done
[ -n "$py" ] || { echo "Triptych needs Python 3.11 (python3.11 not found)" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv 2>/dev/null || {
    echo "python3 -m venv failed; installing python3-venv" >&2
    apt-get install -y -qq python3-venv >/dev/null && "$py" -m venv .venv; }
fi

extras=""
# The tests include a smoke run of every benchmark (tests/app/test_bench_smoke.py), so they need the
# official SDKs that bench 3 compares against, too.
case "$what" in test|bench) extras="[dev,bench]" ;; esac
stamp=".venv/.triptych-setup-$(cat pyproject.toml | sha1sum | cut -c1-12)-${what}"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".${extras}"
  touch "$stamp"
fi
