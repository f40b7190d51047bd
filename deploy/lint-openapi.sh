#!/usr/bin/env bash
# Lint schemas/openapi.json with a real OpenAPI linter, pinned: Redocly CLI
# from the npm registry, installed once into a git-ignored folder (.dev/npm)
# so neither the machine nor a global npm is touched. Rules and the reasons
# for them: schemas/redocly.yaml. Exits non-zero on any error; the config
# makes every recommended warning an error.
#   deploy/lint-openapi.sh [document]      default schemas/openapi.json
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEV="${REFTRACK_DEV_DIR:-$ROOT/.dev}"
REDOCLY_VERSION="2.77.0" # bump deliberately: a new rule set can fail the build
PREFIX="$DEV/npm"
BIN="$PREFIX/node_modules/.bin/redocly"
DOC="${1:-$ROOT/schemas/openapi.json}"

say() { echo "lint-openapi: $*" >&2; }

command -v npm >/dev/null || { say "npm is needed (apt-get install -y npm, or Node.js >= 20.19)"; exit 1; }

installed() {
	[[ -x $BIN ]] && [[ $(node -p 'require(process.argv[1]).version' "$PREFIX/node_modules/@redocly/cli/package.json" 2>/dev/null) == "$REDOCLY_VERSION" ]]
}

if ! installed; then
	say "installing @redocly/cli@$REDOCLY_VERSION into $PREFIX"
	mkdir -p "$PREFIX"
	# --ignore-scripts: a linter needs no install hooks run on this machine.
	npm install --prefix "$PREFIX" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
		"@redocly/cli@$REDOCLY_VERSION" >&2
	installed || { say "@redocly/cli@$REDOCLY_VERSION did not install"; exit 1; }
fi

# No telemetry or update checks from a build step.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
exec "$BIN" lint --config "$ROOT/schemas/redocly.yaml" --format=codeframe "$DOC"
