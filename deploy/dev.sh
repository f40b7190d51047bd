#!/usr/bin/env bash
# Dev stack: the dev Kafka broker (kfake), Redis, ClickHouse and the six
# reftrack workers as separate processes, on ports of the project's own
# (internal/devports/ports.env, each overridden by its environment variable).
#   dev.sh up        start everything (binaries from bin/, see `make build`)
#   dev.sh down      stop everything
#   dev.sh run [N]   wipe dev data, up, push N generated events through, print what landed, down
#   dev.sh status    what runs
# A thin wrapper: bin/devstack (deploy/cmd/devstack, on package
# deploy/devstack) is the one launcher, and supervises the workers.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEVSTACK="$ROOT/bin/devstack"
[[ -x $DEVSTACK ]] || { echo "dev: missing $DEVSTACK: run make build" >&2; exit 1; }

case "${1:-}" in
up | down | status) exec "$DEVSTACK" "$1" --root "$ROOT" ;;
run) exec "$DEVSTACK" run --root "$ROOT" --events "${2:-10000}" ;;
*) echo "usage: $0 up|down|status|run [events]" >&2; exit 2 ;;
esac
