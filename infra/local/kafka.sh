#!/usr/bin/env bash
# Local Apache Kafka (KRaft, single combined node) from the official jars on Maven Central.
# Usage: infra/local/kafka.sh fetch|start|stop|status|address|reset
#   fetch    resolve the broker jars with Maven into the cache (once; later runs reuse it)
#   start    format storage on first use, start the broker on its loopback ports, wait until ready;
#            storage is never discarded: if a port stays taken, start fails and says so
#   stop     stop the broker started by this script (SIGTERM, then SIGKILL after 30 s)
#   address  print the bootstrap address (host:port) of the running broker
#   reset    stop the broker and DELETE its storage (every event it holds); the next start is fresh
# Environment: BEILEI_STATE (default <repo>/.local), BEILEI_CACHE (default ~/.cache/beilei),
#              KAFKA_HEAP (default 768m), JAVA_HOME (default: the java on PATH),
#              KAFKA_PORT_WAIT (seconds start waits for a taken port to be freed, default 60).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka-pom.xml")
cache=${BEILEI_CACHE:-$HOME/.cache/beilei}/kafka-$version
state=${BEILEI_STATE:-$repo/.local}/kafka
java=${JAVA_HOME:+$JAVA_HOME/bin/}java

log() { printf 'kafka: %s\n' "$*" >&2; }

fetch() {
  if [ -f "$cache/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || { log "Maven (mvn) is needed to fetch the Kafka jars: apt-get install maven"; exit 1; }
  log "fetching Apache Kafka $version jars from Maven Central into $cache (first run only)"
  rm -rf "$cache.tmp"; mkdir -p "$cache.tmp"
  mvn -q -B -Dstyle.color=never -f "$here/kafka-pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$cache.tmp/libs" >&2
  rm -rf "$cache"; mv "$cache.tmp" "$cache"; touch "$cache/.complete"
  log "$(ls "$cache/libs" | wc -l) jars cached"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# SO_REUSEADDR, as the broker binds: a port whose old connections linger in TIME_WAIT after a crash is
# free to it; only a socket listening there (another program, or a broker this script lost track of) is not.
port_free() {
  python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind(("127.0.0.1",int(sys.argv[1])))' "$1" 2>/dev/null
}
# A broker killed a moment ago may linger as a zombie until reaped: that is not running.
running() {
  [ -f "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null \
    && [ "$(ps -o stat= -p "$(cat "$state/pid")" 2>/dev/null | cut -c1)" != Z ]
}

# The storage holds acknowledged events: a taken port is waited for, then reported, never "solved" by
# starting over with fresh storage (that is `reset`, said explicitly).
wait_for_port() {
  local deadline=$((SECONDS + ${KAFKA_PORT_WAIT:-60})) said=""
  until port_free "$1"; do
    if [ $SECONDS -ge $deadline ]; then
      log "port $1 is still in use by another program after ${KAFKA_PORT_WAIT:-60} s:"
      if command -v ss >/dev/null; then ss -Hltnp "( sport = :$1 )" >&2 || true; fi
      log "this broker's storage in $state keeps its port (KRaft recorded it) and was left untouched."
      log "free port $1 and run '$0 start' again, or discard every event this broker holds with '$0 reset'"
      exit 1
    fi
    [ -n "$said" ] || { log "port $1 is in use; waiting up to ${KAFKA_PORT_WAIT:-60} s for it to be freed"; said=1; }
    sleep 1
  done
}

configure() {
  # Ports are chosen once per state folder: KRaft records the controller's endpoint in its log.
  if [ -f "$state/ports" ]; then
    read -r bport cport < "$state/ports"
    wait_for_port "$bport"; wait_for_port "$cport"
  fi
  if [ ! -f "$state/ports" ]; then
    mkdir -p "$state/data" "$state/logs"
    bport=$(free_port); cport=$(free_port)
    while [ "$cport" = "$bport" ]; do cport=$(free_port); done
    echo "$bport $cport" > "$state/ports"
  fi
  read -r bport cport < "$state/ports"
  cat > "$state/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$bport,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$bport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$state/data
num.partitions=6
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
PROPS
}

start() {
  if running; then log "already running at $(address)"; return 0; fi
  fetch
  configure
  local cp="$cache/libs/*" jopts=(-Xms256m "-Xmx${KAFKA_HEAP:-768m}" -XX:+UseG1GC -Djava.awt.headless=true
        "-Dlog4j2.configurationFile=$here/log4j2.properties" "-Dkafka.logs.dir=$state/logs")
  if [ ! -f "$state/data/meta.properties" ]; then
    local cluster_id
    # Never one that starts with "-": the format tool would read it as an option (1 start in 64 failed).
    cluster_id=$(python3 -c 'import base64,uuid
while (i := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"): pass
print(i)')
    "$java" "${jopts[@]}" -cp "$cp" kafka.tools.StorageTool format --standalone \
        -t "$cluster_id" -c "$state/server.properties" > "$state/logs/format.log" 2>&1 \
      || { cat "$state/logs/format.log" >&2; exit 1; }
  fi
  nohup "$java" "${jopts[@]}" -cp "$cp" kafka.Kafka "$state/server.properties" \
      > "$state/logs/stdout.log" 2>&1 < /dev/null &
  echo $! > "$state/pid"
  local deadline=$((SECONDS + 240))
  until python3 - "$bport" <<'PY' 2>/dev/null
import socket, struct, sys
# ApiVersions v0 request: the broker answers only once its listener is up.
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
body = struct.pack(">hhih", 18, 0, 1, 4) + b"live"
s.sendall(struct.pack(">i", len(body)) + body)
size = struct.unpack(">i", s.recv(4))[0]
assert size > 0
PY
  do
    if ! running; then log "broker exited during startup:"; tail -30 "$state/logs/stdout.log" "$state/logs/server.log" >&2 || true; exit 1; fi
    if [ $SECONDS -gt $deadline ]; then log "broker not ready after 240 s"; tail -30 "$state/logs/server.log" >&2; exit 1; fi
    sleep 0.5
  done
  log "Apache Kafka $version ready at 127.0.0.1:$bport (pid $(cat "$state/pid"), logs in $state/logs)"
}

stop() {
  running || { rm -f "$state/pid"; return 0; }
  local pid; pid=$(cat "$state/pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$state/pid"
  log "stopped"
}

address() { read -r bport _ < "$state/ports"; echo "127.0.0.1:$bport"; }

reset() {
  stop
  rm -rf "$state"
  log "storage in $state removed; the next start formats a fresh broker"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) if running; then echo "running at $(address)"; else echo "stopped"; exit 1; fi ;;
  address) running || { log "not running"; exit 1; }; address ;;
  reset) reset ;;
  version) echo "$version" ;;
  *) sed -n '2,13p' "$0"; exit 2 ;;
esac
