#!/usr/bin/env bash
# The README's "Blind arena" screenshots, from the real window on a virtual X server against the
# loopback fake provider server (no API key, no network): 24 blind matches voted through the CLI (a
# preference with some noise), then a blind match sent from the window, before and after the vote,
# and the Leaderboard dialog. Usage: scripts/arena_screenshots.sh [light|dark] (default light).
set -euo pipefail
cd "$(dirname "$0")/.."
theme="${1:-light}"
display=":87"
port=8847
home="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$home"; }
trap cleanup EXIT

Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
pids+=($!)
.venv/bin/python -m tests.fakes.server --port "$port" --corpus tests/app/corpus >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do xdpyinfo -display "$display" >/dev/null 2>&1 && break; sleep 0.1; done
sleep 1

export TRIPTYCH_HOME="$home" TRIPTYCH_NO_KEYRING=1 DISPLAY="$display"
base="http://127.0.0.1:$port"
export OPENAI_BASE_URL="$base/v1" ANTHROPIC_BASE_URL="$base" DEEPSEEK_BASE_URL="$base" \
  OPENROUTER_BASE_URL="$base/api/v1"
for p in OPENAI ANTHROPIC DEEPSEEK OPENROUTER; do export "${p}_API_KEY=sk-fake-test-key"; done
mkdir -p "$home"
printf '[ui]\ntheme = "%s"\ndefault_models = ["anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol", "deepseek:deepseek-flash", "openai:gpt-6-luna"]\n' "$theme" >"$home/config.toml"

.venv/bin/python - <<'EOF'
import json, random, subprocess
models = ["anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol", "deepseek:deepseek-flash", "openai:gpt-6-luna"]
strength = {"anthropic:claude-sonnet-5-5": 3.0, "deepseek:deepseek-flash": 2.2, "openai:gpt-6.2-sol": 2.0,
            "openai:gpt-6-luna": 0.8}
rng = random.Random(7)
prompts = ["Explain a Kalman filter", "Write a SQL window function", "Summarise this contract clause",
           "Refactor a Python loop", "What is a GDPR data processor?", "Prove sqrt(2) is irrational"]
for i in range(24):
    tag = ["coding", "legal", "math"][i % 3]
    cmd = [".venv/bin/triptych", "arena", "--json", "--tag", tag, prompts[i % len(prompts)]]
    for m in models:
        cmd += ["-m", m]
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    match = out["match_id"]
    shown = json.loads(subprocess.run([".venv/bin/triptych", "vote", "--json", match, "tie"], check=True,
                                      capture_output=True, text=True).stdout)
    a, b = strength[shown["a_model"]], strength[shown["b_model"]]
    r = rng.random()
    vote = "tie" if r < 0.12 else ("a" if rng.random() < a / (a + b) else "b")
    subprocess.run([".venv/bin/triptych", "vote", match, vote], check=True, capture_output=True)
EOF

.venv/bin/triptych gui >/dev/null 2>&1 &
pids+=($!)
win=""
for _ in $(seq 100); do win="$(xdotool search --name '^Triptych' 2>/dev/null | head -1 || true)"; [ -n "$win" ] && break; sleep 0.2; done
sleep 2
xdotool windowfocus "$win" || true
sleep 0.5
xdotool key ctrl+n
sleep 0.5
xdotool type --delay 5 "Which sorting algorithm should I use for nearly sorted data, and why?"
xdotool key ctrl+shift+m   # Evaluate → Blind match
sleep 0.3
xdotool key ctrl+Return
sleep 6
import -window root -crop 1440x900+0+0 +repage "docs/arena-before-$theme.png"
xdotool key shift+Tab      # the canvas
sleep 0.3
xdotool key Down           # a card of the pair
sleep 0.3
xdotool key 1              # A is better
sleep 1
import -window root -crop 1440x900+0+0 +repage "docs/arena-after-$theme.png"
xdotool key ctrl+shift+b   # Evaluate → Leaderboard…
sleep 2
import -window root -crop 1440x900+0+0 +repage "docs/arena-leaderboard-$theme.png"
echo "wrote docs/arena-{before,after,leaderboard}-$theme.png"
