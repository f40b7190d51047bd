#!/usr/bin/env bash
# Checks and unit-tests the alert rules with promtool:
#   deploy/prometheus/test.sh [rules dir]     default: this folder
# Installs Debian's prometheus package (which ships promtool) when promtool
# is missing and this runs as root; exits 3 when promtool cannot be had, so
# callers can tell "not checked" from "failed".
set -euo pipefail
DIR="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"

if ! command -v promtool >/dev/null; then
	if [[ $(id -u) -eq 0 && -z ${REFTRACK_NO_INSTALL:-} ]]; then
		echo "test.sh: installing promtool (apt-get install prometheus)" >&2
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus; } >/dev/null 2>&1 || true
	fi
	command -v promtool >/dev/null || { echo "test.sh: promtool missing (apt-get install -y prometheus)" >&2; exit 3; }
fi
promtool check rules "$DIR/alerts.yml"
promtool test rules "$DIR/alerts_test.yml"
