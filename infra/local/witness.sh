#!/usr/bin/env bash
# Local tlog witnesses (C2SP tlog-witness): litewitness from filippo.io/torchwood, built from the Go module
# proxy with the installed Go, as kafka.sh fetches Kafka's jars from Maven Central.
# Usage: infra/local/witness.sh fetch|start|stop|vkey|address
#   fetch                          build litewitness and witnessctl into the cache (once; later runs reuse it)
#   start NAME PORT ORIGIN LOGVKEY start witness NAME on 127.0.0.1:PORT, each with its own ssh-agent holding
#                                  its own Ed25519 key (generated on first start), knowing the log ORIGIN with
#                                  verifier key LOGVKEY; prints the witness's verifier key (cosignature/v1)
#   stop NAME                      stop witness NAME and its ssh-agent (its key and database are kept)
#   vkey NAME                      print the verifier key of witness NAME
#   reset NAME                     stop witness NAME and DELETE its key and database
# Environment: BEILEI_STATE (default <repo>/.local), BEILEI_CACHE (default ~/.cache/beilei),
#              GO (default: go on PATH, else /usr/local/go/bin/go).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
version=v0.6.1
cache=${BEILEI_CACHE:-$HOME/.cache/beilei}/litewitness-$version
states=${BEILEI_STATE:-$repo/.local}/witness
go=${GO:-$(command -v go || echo /usr/local/go/bin/go)}

log() { printf 'witness: %s\n' "$*" >&2; }

fetch() {
  if [ -f "$cache/.complete" ]; then return 0; fi
  [ -x "$go" ] || { log "Go is needed to build litewitness (https://go.dev/dl, or set GO=)"; exit 1; }
  log "building filippo.io/torchwood litewitness and witnessctl $version into $cache (first run only)"
  rm -rf "$cache.tmp"; mkdir -p "$cache.tmp/bin"
  GOBIN="$cache.tmp/bin" GOFLAGS=-modcacherw "$go" install \
    "filippo.io/torchwood/cmd/litewitness@$version" "filippo.io/torchwood/cmd/witnessctl@$version" >&2
  rm -rf "$cache"; mv "$cache.tmp" "$cache"; touch "$cache/.complete"
}

need_name() { [[ "${1:-}" =~ ^[a-z0-9-]+$ ]] || { log "a witness NAME of [a-z0-9-] is needed"; exit 2; }; }
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null && [ "$(ps -o stat= -p "$(cat "$1")" | cut -c1)" != Z ]; }

vkey() {
  need_name "${1:-}"; local dir=$states/$1
  [ -f "$dir/vkey" ] || { log "witness $1 was never started"; exit 1; }
  cat "$dir/vkey"
}

start() {
  need_name "${1:-}"; local name=$1 port=${2:?PORT} origin=${3:?ORIGIN} logvkey=${4:?LOGVKEY}
  local dir=$states/$name bin=$cache/bin
  fetch; mkdir -p "$dir"
  [ -f "$dir/key" ] || ssh-keygen -q -t ed25519 -N "" -C "beilei-witness-$name" -f "$dir/key"
  # A dedicated agent per witness, as litewitness's README asks; its socket path must stay short.
  if ! running "$dir/agent.pid"; then
    rm -f "$dir/agent.sock"
    ssh-agent -a "$dir/agent.sock" -s > "$dir/agent.env"
    sed -n 's/^SSH_AGENT_PID=\([0-9]*\);.*/\1/p' "$dir/agent.env" > "$dir/agent.pid"
    SSH_AUTH_SOCK=$dir/agent.sock ssh-add -q "$dir/key"
  fi
  # Known logs and their keys live in the witness's database; adding them again is refused harmlessly.
  "$bin/witnessctl" add-log -db "$dir/db" -origin "$origin" >/dev/null 2>&1 || true
  "$bin/witnessctl" list-logs -db "$dir/db" | grep -qF "\"$logvkey\"" \
    || "$bin/witnessctl" add-key -db "$dir/db" -origin "$origin" -key "$logvkey" >&2
  if running "$dir/pid"; then vkey "$name"; return 0; fi
  local fp; fp=$(ssh-keygen -l -E sha256 -f "$dir/key.pub" | awk '{print $2}')
  nohup "$bin/litewitness" -name "beilei.local/witness/$name" -db "$dir/db" -ssh-agent "$dir/agent.sock" \
    -key "$fp" -listen "127.0.0.1:$port" > "$dir/log" 2>&1 &
  echo $! > "$dir/pid"
  local deadline=$((SECONDS + 30))
  until grep -q 'vkey=' "$dir/log" && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if ! running "$dir/pid" || [ $SECONDS -ge $deadline ]; then
      log "witness $name did not start; its log:"; cat "$dir/log" >&2; stop "$name"; exit 1
    fi
    sleep 0.2
  done
  sed -n 's/.*vkey=\([^ ]*\).*/\1/p' "$dir/log" | head -1 | tr -d '"' > "$dir/vkey"
  cat "$dir/vkey"
}

stop_pid() {
  running "$1" || { rm -f "$1"; return 0; }
  local pid; pid=$(cat "$1"); kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do running "$1" || break; sleep 0.1; done
  running "$1" && kill -9 "$pid" 2>/dev/null || true
  rm -f "$1"
}

stop() { need_name "${1:-}"; stop_pid "$states/$1/pid"; stop_pid "$states/$1/agent.pid"; }

case "${1:-}" in
  fetch) fetch ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  vkey) shift; vkey "$@" ;;
  reset) shift; stop "$@"; rm -rf "${states:?}/$1" ;;
  *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
