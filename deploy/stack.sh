#!/usr/bin/env bash
# Redis and ClickHouse for development and tests, in user space, on ports of
# the project's own, with data under a git-ignored folder.
#   stack.sh install                       apt-get what is missing (as root)
#   stack.sh up | down                     both servers
#   stack.sh up-redis | down-redis | up-clickhouse | down-clickhouse
#   stack.sh status | clean
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEV="${REFTRACK_DEV_DIR:-$ROOT/.dev}"
# The dev ports come from internal/devports/ports.env, their one definition
# (Go reads it too); the environment overrides each.
while IFS='=' read -r k v || [[ -n $k ]]; do
	if [[ $k =~ ^[A-Z_]+$ ]]; then export "$k=${!k:-$v}"; fi
done <"$ROOT/internal/devports/ports.env"
CH_TCP="$CLICKHOUSE_TCP_PORT"
CH_HTTP="$CLICKHOUSE_HTTP_PORT"
CH_DIR="$DEV/clickhouse"
REDIS_DIR="$DEV/redis"

say() { echo "stack: $*" >&2; }

as_root() {
	if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
		say "need root to run: $*"; return 1
	fi
}

install() {
	local missing=()
	command -v redis-server >/dev/null || missing+=(redis-server)
	[[ -x /usr/bin/clickhouse-server || -x /usr/sbin/clickhouse-server ]] || command -v clickhouse-server >/dev/null || missing+=(clickhouse-server)
	command -v clickhouse-client >/dev/null || missing+=(clickhouse-client)
	command -v curl >/dev/null || missing+=(curl)
	# promtool, for the alert rules' unit tests (deploy/prometheus).
	command -v promtool >/dev/null || missing+=(prometheus)
	((${#missing[@]} == 0)) && return 0
	say "installing ${missing[*]}"
	# Another apt run (unattended upgrades) holds the lock for a while at boot.
	for _ in $(seq 1 60); do
		pgrep -x apt-get >/dev/null || pgrep -x dpkg >/dev/null || break
		sleep 2
	done
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

redis_ok() { redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

up_redis() {
	redis_ok && return 0
	mkdir -p "$REDIS_DIR"
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
		--dir "$REDIS_DIR" --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log"
	for _ in $(seq 1 100); do redis_ok && { say "redis up on $REDIS_PORT"; return 0; }; sleep 0.2; done
	say "redis did not start; log tail:"; tail -n 20 "$REDIS_DIR/redis.log" >&2 || true
	return 1
}

down_redis() {
	redis_ok && redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
	rm -f "$REDIS_DIR/redis.pid"
}

ch_ok() { [[ "$(curl -fsS "http://127.0.0.1:$CH_HTTP/ping" 2>/dev/null)" == "Ok." ]]; }

ch_binary() {
	for b in /usr/bin/clickhouse-server /usr/sbin/clickhouse-server "$(command -v clickhouse-server || true)"; do
		[[ -n "$b" && -x "$b" ]] && { echo "$b"; return; }
	done
	say "clickhouse-server not found; run: $0 install"; return 1
}

# ch_config writes a copy of the packaged config with every path under
# $CH_DIR and only the project's ports on loopback.
ch_config() {
	mkdir -p "$CH_DIR"/{etc,data,tmp,user_files,format_schemas,log}
	cp /etc/clickhouse-server/users.xml "$CH_DIR/etc/users.xml"
	sed -E \
		-e "s#<path>/var/lib/clickhouse/</path>#<path>$CH_DIR/data/</path>#" \
		-e "s#<tmp_path>[^<]*</tmp_path>#<tmp_path>$CH_DIR/tmp/</tmp_path>#" \
		-e "s#<user_files_path>[^<]*</user_files_path>#<user_files_path>$CH_DIR/user_files/</user_files_path>#" \
		-e "s#<format_schema_path>[^<]*</format_schema_path>#<format_schema_path>$CH_DIR/format_schemas/</format_schema_path>#" \
		-e "s#<log>[^<]*</log>#<log>$CH_DIR/log/clickhouse-server.log</log>#" \
		-e "s#<errorlog>[^<]*</errorlog>#<errorlog>$CH_DIR/log/clickhouse-server.err.log</errorlog>#" \
		-e "s#<http_port>[^<]*</http_port>#<http_port>$CH_HTTP</http_port>#" \
		-e "s#<tcp_port>[^<]*</tcp_port>#<tcp_port>$CH_TCP</tcp_port>#" \
		-e "s#<interserver_http_port>[^<]*</interserver_http_port>#<interserver_http_port>$((CH_TCP + 9))</interserver_http_port>#" \
		-e "/<https_port>|<tcp_port_secure>|<mysql_port>|<postgresql_port>/d" \
		-e "s#<listen_host>::1</listen_host>##" \
		-e "s#<users_config>[^<]*</users_config>#<users_config>$CH_DIR/etc/users.xml</users_config>#" \
		/etc/clickhouse-server/config.xml >"$CH_DIR/etc/config.xml"
}

up_clickhouse() {
	ch_ok && return 0
	local bin; bin=$(ch_binary)
	ch_config
	say "starting clickhouse on tcp $CH_TCP, http $CH_HTTP"
	# clickhouse-server writes --pid-file only when it daemonizes itself,
	# so the script records the pid (nohup execs the server in place).
	(
		cd "$CH_DIR" || exit 1
		nohup "$bin" --config-file="$CH_DIR/etc/config.xml" >>"$CH_DIR/log/stdout.log" 2>&1 </dev/null &
		echo $! >"$CH_DIR/clickhouse.pid"
	)
	for _ in $(seq 1 300); do ch_ok && { say "clickhouse up"; return 0; }; sleep 0.2; done
	say "clickhouse did not start; error log tail:"
	tail -n 30 "$CH_DIR/log/clickhouse-server.err.log" "$CH_DIR/log/stdout.log" >&2 || true
	return 1
}

down_clickhouse() {
	local pidf="$CH_DIR/clickhouse.pid"
	[[ -f $pidf ]] || return 0
	local pid; pid=$(cat "$pidf")
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$pidf"
}

status() {
	if redis_ok; then echo "redis running on $REDIS_PORT"; else echo "redis stopped"; fi
	if ch_ok; then echo "clickhouse running on tcp $CH_TCP, http $CH_HTTP"; else echo "clickhouse stopped"; fi
}

case "${1:-}" in
install) install ;;
up) install; up_redis; up_clickhouse ;;
down) down_redis; down_clickhouse ;;
up-redis) install; up_redis ;;
down-redis) down_redis ;;
up-clickhouse) install; up_clickhouse ;;
down-clickhouse) down_clickhouse ;;
status) status ;;
clean) down_redis; down_clickhouse; rm -rf "$DEV" ;;
*) echo "usage: $0 install|up|down|up-redis|down-redis|up-clickhouse|down-clickhouse|status|clean" >&2; exit 2 ;;
esac
