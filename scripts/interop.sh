#!/usr/bin/env bash
# Interop check against servers Triptych did not write (issue #14): installs the LiteLLM proxy and llmock
# from PyPI into their own virtual environment (.interop-venv, git-ignored; never the app's .venv), starts
# them on 127.0.0.1 (llmock with its fault scenarios; LiteLLM as a streaming front proxy in front of
# llmock, config in scripts/interop/litellm.yaml), runs `triptych ask` through every provider path
# (Chat Completions, Responses, Anthropic Messages) and fault, and prints a table of results.
# Exit status 0 when every row is as expected. Not part of the test command: LiteLLM's proxy extra is a
# large install (about 800 MB) and the run takes about a minute.
#   bash scripts/interop.sh [--keep-logs]
# Versions: LITELLM_VERSION / LLMOCK_VERSION (the ones this check last passed with by default).
set -euo pipefail
cd "$(dirname "$0")/.."
litellm_version=${LITELLM_VERSION:-1.108.7}
llmock_version=${LLMOCK_VERSION:-0.2.2}

[ -x .venv/bin/python ] || bash scripts/bootstrap.sh run

venv=.interop-venv
stamp="$venv/.installed-litellm-$litellm_version-llmock-$llmock_version"
if [ ! -f "$stamp" ]; then
  py=""
  for c in python3.11 python3; do
    if command -v "$c" >/dev/null 2>&1; then py=$c; break; fi
  done
  [ -n "$py" ] || { echo "interop: no python3 found" >&2; exit 1; }
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  echo "Installing litellm[proxy]==$litellm_version and llmock==$llmock_version into $venv (a few minutes the first time)"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    "litellm[proxy]==$litellm_version" "llmock==$llmock_version"
  rm -f "$venv"/.installed-*
  touch "$stamp"
fi

exec .venv/bin/python scripts/interop/interop.py --tools "$venv/bin" "$@"
