#!/usr/bin/env bash
# fuzz-one.sh DIR TARGET FUZZTIME: fuzz one target, and tell a finding from
# Go 1.26's coordinator race at the -fuzztime boundary (golang/go#75804,
# fixed in Go 1.27): that race fails with a bare "context deadline exceeded"
# and writes no failing input. A finding always writes one, so it always
# fails here; the race is retried once and then reported, not failed.
set -uo pipefail
dir=$1 target=$2 fuzztime=$3
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for attempt in 1 2; do
  (cd "$dir" && go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" .) 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  [ "$status" -eq 0 ] && exit 0
  if grep -q 'Failing input written to' "$log" || ! grep -q 'context deadline exceeded' "$log"; then
    exit "$status"
  fi
  echo "fuzz-one: $target hit the -fuzztime boundary race (golang/go#75804), no failing input; attempt $attempt" >&2
done
echo "fuzz-one: WARNING $target: boundary race twice, no failing input written; not counted as a failure" >&2
exit 0
