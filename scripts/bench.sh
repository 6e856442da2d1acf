#!/usr/bin/env bash
# The benchmark suite (bench/): set-up (the [dev,bench] extras, with the official SDKs benchmark 3
# compares against), then every benchmark, each in its own process. Writes docs/performance.md (the
# machine, the date, every figure against its target) and docs/ui-stall.png. Under 10 minutes on a
# 2-core machine. Benchmark 9 (the team store) starts its own throwaway PostgreSQL cluster (Debian's
# `postgresql`, installed by the set-up). Arguments go to bench/run_all.py: --only 3,9 (some), --smoke
# (tiny sizes).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh bench
export QT_QPA_PLATFORM=offscreen TRIPTYCH_NO_KEYRING=1
unset DISPLAY WAYLAND_DISPLAY
exec .venv/bin/python -m bench.run_all "$@"
