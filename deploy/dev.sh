#!/usr/bin/env bash
# Dev stack: the dev Kafka broker (kfake), Redis, ClickHouse and the six
# reftrack workers as separate processes, on ports of the project's own.
#   dev.sh up        start everything (binaries from bin/, see `make build`)
#   dev.sh down      stop everything
#   dev.sh run [N]   wipe dev data, up, push N generated events through, print what landed, down
#   dev.sh status    what runs
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEV="${REFTRACK_DEV_DIR:-$ROOT/.dev}"
BIN="$ROOT/bin"
PIDS="$DEV/pids"
LOGS="$DEV/logs"
# The dev ports come from internal/devports/ports.env, their one definition
# (Go reads it too); the environment overrides each.
while IFS='=' read -r k v || [[ -n $k ]]; do
	if [[ $k =~ ^[A-Z_]+$ ]]; then export "$k=${!k:-$v}"; fi
done <"$ROOT/internal/devports/ports.env"
STAGES=(ingest validate dedupe attribute commission sink)

say() { echo "dev: $*" >&2; }

running() { [[ -f "$PIDS/$1.pid" ]] && kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null; }

start_proc() { # name, command...
	local name=$1; shift
	if running "$name"; then say "$name already running"; return; fi
	nohup "$@" >>"$LOGS/$name.log" 2>&1 &
	echo $! >"$PIDS/$name.pid"
}

# supervise runs a worker and restarts it whenever it exits, as Kubernetes
# or systemd would: a worker that gives up (brokers gone past its retries,
# fenced by a newer instance) comes back instead of leaving the stack
# broken. TERM stops the worker and the loop.
supervise() { # name, command...
	local name=$1; shift
	local child="" delay=1
	trap '[[ -n $child ]] && kill -TERM "$child" 2>/dev/null; [[ -n $child ]] && wait "$child"; exit 0' TERM INT
	while :; do
		"$@" &
		child=$!
		local started=$SECONDS rc=0
		wait "$child" || rc=$?
		child=""
		(( SECONDS - started > 30 )) && delay=1
		echo "dev: $name exited with status $rc; restarting in ${delay}s" >&2
		sleep "$delay"
		delay=$(( delay < 16 ? delay * 2 : 16 ))
	done
}

start_supervised() { # name, command...
	local name=$1; shift
	if running "$name"; then say "$name already running"; return; fi
	supervise "$name" "$@" </dev/null >>"$LOGS/$name.log" 2>&1 &
	echo $! >"$PIDS/$name.pid"
}

stop_proc() {
	local name=$1
	running "$name" || { rm -f "$PIDS/$name.pid"; return 0; }
	local pid; pid=$(cat "$PIDS/$name.pid")
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$PIDS/$name.pid"
}

wait_http() { # url, what
	for _ in $(seq 1 300); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.2
	done
	say "$2 did not become ready at $1; log tail:"; tail -n 30 "$LOGS/$2.log" >&2 || true
	return 1
}

wait_port() { # port, what
	for _ in $(seq 1 150); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.2
	done
	say "$2 is not listening on $1"; return 1
}

up() {
	for b in devbroker reftrack "${STAGES[@]}"; do
		[[ -x "$BIN/$b" ]] || { say "missing $BIN/$b: run make build"; exit 1; }
	done
	mkdir -p "$PIDS" "$LOGS"
	"$ROOT/deploy/stack.sh" up
	start_proc devbroker "$BIN/devbroker" --port "$BROKER_PORT" --data-dir "$DEV/kafka"
	wait_port "$BROKER_PORT" devbroker
	export REFTRACK_BROKERS="127.0.0.1:$BROKER_PORT"
	export REFTRACK_REDIS="127.0.0.1:$REDIS_PORT"
	export REFTRACK_CLICKHOUSE="clickhouse://127.0.0.1:$CLICKHOUSE_TCP_PORT/reftrack"
	export REFTRACK_RULES="$ROOT/deploy/dev/rules.json"
	export REFTRACK_LICENCES="$ROOT/deploy/dev/licences.json"
	export REFTRACK_FX_RATES="$ROOT/deploy/dev/rates.json"
	export REFTRACK_LISTEN="127.0.0.1:$API_PORT"
	# Dev-only token settings, the same as deploy/devstack's DevJWT*: the demo
	# signs an admin token with them. Never reuse them anywhere real.
	export REFTRACK_JWT_ISSUER="reftrack-dev"
	export REFTRACK_JWT_HS256_SECRET="reftrack-dev-only-secret-0123456789abcdef"
	export REFTRACK_LOG_FORMAT="${REFTRACK_LOG_FORMAT:-text}"
	# ingest seals the leads' contacts (PRIVACY.md): a dev keyring of its
	# own under $DEV, the data keys in Redis database 1, apart from the
	# stages' state (database 0). `reftrack erase --pii-redis-db 1` erases.
	[[ -f "$DEV/keyring.json" ]] || "$BIN/reftrack" pii add-kek --keyring "$DEV/keyring.json" --current >/dev/null
	export REFTRACK_PII_MODE="${REFTRACK_PII_MODE:-seal}"
	export REFTRACK_PII_KEYRING="$DEV/keyring.json"
	export REFTRACK_PII_REDIS="127.0.0.1:$REDIS_PORT"
	export REFTRACK_PII_REDIS_DB=1
	local i=1
	for s in "${STAGES[@]}"; do
		REFTRACK_OPS_ADDR="127.0.0.1:$((OPS_BASE + i))" start_supervised "$s" "$BIN/$s"
		i=$((i + 1))
	done
	i=1
	for s in "${STAGES[@]}"; do
		wait_http "http://127.0.0.1:$((OPS_BASE + i))/readyz" "$s"
		i=$((i + 1))
	done
	say "up: broker 127.0.0.1:$BROKER_PORT, API http://127.0.0.1:$API_PORT/v1/events, metrics on ports $((OPS_BASE + 1))-$((OPS_BASE + 6)), logs in $LOGS"
}

down() {
	for s in "${STAGES[@]}"; do stop_proc "$s"; done
	stop_proc devbroker
	"$ROOT/deploy/stack.sh" down
}

status() {
	for p in devbroker "${STAGES[@]}"; do
		if running "$p"; then echo "$p running (pid $(cat "$PIDS/$p.pid"))"; else echo "$p stopped"; fi
	done
	"$ROOT/deploy/stack.sh" status || true
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
run)
	# A demo starts from empty: stop whatever runs and wipe the dev data, so
	# the counts printed are exactly this run's.
	down
	trap down EXIT
	rm -rf "$DEV/kafka"
	"$ROOT/deploy/stack.sh" up
	redis-cli -p "$REDIS_PORT" flushall >/dev/null
	clickhouse-client --port "$CLICKHOUSE_TCP_PORT" -q "DROP DATABASE IF EXISTS reftrack"
	up
	"$BIN/demo" --events "${2:-10000}" --brokers "127.0.0.1:$BROKER_PORT" --ingest-url "http://127.0.0.1:$API_PORT" \
		--clickhouse "clickhouse://127.0.0.1:$CLICKHOUSE_TCP_PORT/reftrack" --rules "$ROOT/deploy/dev/rules.json" \
		--licences "$ROOT/deploy/dev/licences.json" --fx-rates "$ROOT/deploy/dev/rates.json"
	echo
	echo "data-driven attribution of this run (attribute/cmd/datadriven):"
	"$BIN/datadriven" --clickhouse "clickhouse://127.0.0.1:$CLICKHOUSE_TCP_PORT/reftrack"
	;;
*) echo "usage: $0 up|down|status|run [events]" >&2; exit 2 ;;
esac
