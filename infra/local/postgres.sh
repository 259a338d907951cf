#!/usr/bin/env bash
# Local PostgreSQL for development and tests: Debian's server binaries, one cluster per checkout.
# Usage: infra/local/postgres.sh start|stop|status|url|restart [SECONDS]|destroy
#   start    initdb on first use, start on a free loopback port, create role and database "beilei"
#   url      print the DATABASE_URL of the running server
#   restart  stop at once as a crash does (pg_ctl -m immediate: no checkpoint, recovery at start), stay
#            down SECONDS (default 0: an outage), start again on the same port
#   destroy  stop and delete this cluster's data (every database in it)
# Environment: BEILEI_STATE (default <repo>/.local). As root the cluster runs as the "postgres"
# user (PostgreSQL refuses to run as root), with its data under /var/tmp so that user can reach it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
state=${BEILEI_STATE:-$repo/.local}/postgres
log() { printf 'postgres: %s\n' "$*" >&2; }

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
[ -n "$bindir" ] && [ -x "$bindir/initdb" ] || {
  log "PostgreSQL server binaries not found; install them with: apt-get install -y postgresql"; exit 1; }

if [ "$(id -u)" = 0 ]; then
  key=$(printf '%s' "$state" | md5sum | cut -c1-12)
  data=/var/tmp/beilei-pg-$key
  as_pg() { runuser -u postgres -- "$@"; }
else
  data=$state/data
  as_pg() { "$@"; }
fi
mkdir -p "$state"

running() { [ -f "$data/postmaster.pid" ] && as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; }
port() { cat "$state/port"; }
url() { echo "postgresql://beilei:beilei@127.0.0.1:$(port)/beilei"; }

start() {
  if running; then log "already running at 127.0.0.1:$(port)"; return 0; fi
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data"; [ "$(id -u)" = 0 ] && chown postgres: "$data" && chmod 700 "$data"
    as_pg "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$state/initdb.log" 2>&1 \
      || { cat "$state/initdb.log" >&2; exit 1; }
  fi
  local p; p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  echo "$p" > "$state/port"
  launch "$p"
  psql_() { as_pg psql -h 127.0.0.1 -p "$p" -U postgres -v ON_ERROR_STOP=1 -qtAc "$1" postgres; }
  [ "$(psql_ "select 1 from pg_roles where rolname='beilei'")" = 1 ] || psql_ "create role beilei login superuser password 'beilei'"
  [ "$(psql_ "select 1 from pg_database where datname='beilei'")" = 1 ] || psql_ "create database beilei owner beilei"
  log "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') ready at 127.0.0.1:$p (data in $data)"
}

launch() {
  as_pg "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $1 -k $data -c max_connections=300 -c shared_buffers=256MB -c fsync=on -c synchronous_commit=on" \
    start >/dev/null || { tail -20 "$data/server.log" >&2; exit 1; }
}

# Clients hold the address: the server comes back where it was, after crash recovery.
restart() {
  running || { log "not running"; exit 1; }
  as_pg "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null
  log "stopped immediately; down for ${1:-0} s"
  sleep "${1:-0}"
  launch "$(port)"
  log "started again at 127.0.0.1:$(port)"
}

destroy() {
  if running; then as_pg "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null; fi
  rm -rf "$data" "$state"
  log "cluster in $data removed"
}

stop() {
  running || return 0
  as_pg "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null
  log "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if running; then echo "running at 127.0.0.1:$(port)"; else echo "stopped"; exit 1; fi ;;
  url) running || { log "not running"; exit 1; }; url ;;
  restart) restart "${2:-0}" ;;
  destroy) destroy ;;
  *) sed -n '2,11p' "$0"; exit 2 ;;
esac
