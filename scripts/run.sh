#!/usr/bin/env bash
# Launch Triptych: set-up first (fast when done). With no display, the window opens on a virtual X
# server (Xvfb :99) and a line says how to see it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh run
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ "${QT_QPA_PLATFORM:-}" != offscreen ]; then
  export DISPLAY=:99
  if ! xdpyinfo -display :99 >/dev/null 2>&1; then
    Xvfb :99 -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
    for _ in $(seq 50); do xdpyinfo -display :99 >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  echo "No display found: Triptych runs on the virtual display :99 (screenshot: import -display :99 -window root shot.png)"
fi
exec .venv/bin/triptych "$@"
