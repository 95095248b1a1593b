#!/usr/bin/env bash
# Regenerate docs/screenshots/*.png (the operator guide's pictures) from a clean local stack.
#
#   deploy/screenshots/regenerate.sh           # from anywhere in the checkout
#
# Needs Debian's chromium (/usr/bin/chromium: `apt-get install chromium`) and Node with npm.
# It starts its own stack on free ports with a temporary DATA_DIR (a running `./dev up` is
# left alone), a fake LLM, stages four calls (completed, transferred, stuck in CONFIRMING, live),
# shoots the Temporal Web UI with playwright-core, and stops everything it started. Besides
# the stack's codec server (which serves this machine) it runs a second one that serves no
# one, to show what an operator the codec server does not allow sees.
# KEEP_STACK=1 leaves the stack running after the shots until you press Enter.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] || { echo "regenerate: $CHROMIUM not found (apt-get install chromium)" >&2; exit 1; }
command -v npm >/dev/null || { echo "regenerate: npm not found" >&2; exit 1; }
if [ ! -d "$HERE/node_modules/playwright-core" ]; then
  (cd "$HERE" && npm ci --no-fund --no-audit --silent)
fi
./dev --help >/dev/null # sets up .venv when needed
PY="$ROOT/.venv/bin/python"

WORK="$(mktemp -d -t voiceorder-shots.XXXXXX)"
UP_PID="" STAGE_PID="" SLEEP_PID="" DENY_PID=""
cleanup() {
  set +e
  [ -n "$STAGE_PID" ] && kill -TERM "$STAGE_PID" 2>/dev/null
  [ -n "$DENY_PID" ] && kill -TERM "$DENY_PID" 2>/dev/null
  if [ -n "$UP_PID" ] && kill -0 "$UP_PID" 2>/dev/null; then
    kill -INT "$UP_PID" # Ctrl-C: the supervisor stops its services in order
    for _ in $(seq 60); do kill -0 "$UP_PID" 2>/dev/null || break; sleep 1; done
    kill -0 "$UP_PID" 2>/dev/null && kill -TERM "$UP_PID"
  fi
  [ -n "$SLEEP_PID" ] && kill "$SLEEP_PID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

read -r PG_PORT TEMPORAL_PORT UI_PORT STORE_PORT CODEC_PORT DENY_PORT < <("$PY" - <<'EOF'
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
EOF
)
export DATA_DIR="$WORK/data"
export EMBEDDED_PG_PORT="$PG_PORT"
export TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT"
export TEMPORAL_UI_PORT="$UI_PORT"
export STORE_API_PORT="$STORE_PORT"
export STORE_API_URL="http://127.0.0.1:$STORE_PORT/api/v1"
export CODEC_SERVER_HOST=127.0.0.1 CODEC_SERVER_PORT="$CODEC_PORT"
unset DATABASE_URL STORE_DATABASE_URL STORE_API_TOKEN
unset PAYLOAD_KEYS PAYLOAD_KEYS_FILE PAYLOAD_KEY_ID CODEC_SERVER_ALLOW_IPS CODEC_SERVER_TOKENS
export STORE_API_MODE=dev SMS_PROVIDER=database
export CALL_ATTENTION_AFTER_S=0 # Attention as soon as a postponed confirmation fails
# No client circuit breaker: with it, a round against a hanging Store API fails fast and the
# Pending Activities shot would have nothing in flight to show.
export STORE_API_BREAKER_THRESHOLD=1000

echo "regenerate: fake LLM and stager (log $WORK/stage.log)"
"$PY" "$HERE/stage_calls.py" --url-file "$WORK/llm-url" --out "$WORK/calls.json" \
  >"$WORK/stage.log" 2>&1 &
STAGE_PID=$!
for _ in $(seq 100); do [ -s "$WORK/llm-url" ] && break; sleep 0.2; done
[ -s "$WORK/llm-url" ] || { cat "$WORK/stage.log" >&2; exit 1; }

echo "regenerate: ./dev up --reset (UI on port $UI_PORT, log $WORK/up.log)"
OPENAI_BASE_URL="$(cat "$WORK/llm-url")" OPENAI_API_KEY=fake LLM_MODEL=fake-llm \
  ./dev up --reset >"$WORK/up.log" 2>&1 &
UP_PID=$!

for _ in $(seq 600); do
  [ -s "$WORK/calls.json" ] && break
  if ! kill -0 "$STAGE_PID" 2>/dev/null || ! kill -0 "$UP_PID" 2>/dev/null; then
    echo "regenerate: staging failed" >&2
    tail -n 40 "$WORK/up.log" "$WORK/stage.log" >&2
    exit 1
  fi
  sleep 0.5
done
[ -s "$WORK/calls.json" ] || { echo "regenerate: staging timed out" >&2; tail -n 40 "$WORK/stage.log" >&2; exit 1; }
cat "$WORK/calls.json"

WORKER_PID="$(pgrep -P "$UP_PID" -f -- '-m voiceorder worker' | head -n 1)"
[ -n "$WORKER_PID" ] || { echo "regenerate: no worker process under $UP_PID" >&2; exit 1; }

# The same keys, an empty allow-list and no tokens: it refuses everyone, as the stack's codec
# server refuses a browser it does not allow.
echo "regenerate: a codec server that allows no one (log $WORK/deny.log)"
PAYLOAD_KEYS_FILE="$DATA_DIR/payload-keys" CODEC_SERVER_PORT="$DENY_PORT" CODEC_SERVER_ALLOW_IPS=none \
  "$PY" -m voiceorder codec-server >"$WORK/deny.log" 2>&1 &
DENY_PID=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$DENY_PORT/health" >/dev/null 2>&1 && break
  sleep 0.2
done

echo "regenerate: screenshots"
status=0
UI_URL="http://127.0.0.1:$UI_PORT" CALLS_JSON="$WORK/calls.json" CHROMIUM="$CHROMIUM" \
  CODEC_URL="http://127.0.0.1:$CODEC_PORT" DENY_CODEC_URL="http://127.0.0.1:$DENY_PORT" \
  PROFILE_DIR="$WORK/chromium-profile" OUT_DIR="$WORK/shots" WORKER_PID="$WORKER_PID" \
  node "$HERE/shoot.mjs" || status=$?
if [ "$status" = 0 ]; then
  # Replace the set only when every shot worked.
  mkdir -p "$ROOT/docs/screenshots"
  rm -f "$ROOT/docs/screenshots/"*.png
  cp "$WORK/shots/"*.png "$ROOT/docs/screenshots/"
  echo "regenerate: docs/screenshots/ updated"
fi

if [ "${KEEP_STACK:-}" = 1 ]; then
  echo "regenerate: stack left running, UI http://127.0.0.1:$UI_PORT — Enter (or Ctrl-C) stops it"
  read -r _ || {
    sleep infinity &
    SLEEP_PID=$!
    wait "$SLEEP_PID"
  }
fi
echo "regenerate: stopping the stack"
exit "$status"
