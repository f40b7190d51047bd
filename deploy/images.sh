#!/usr/bin/env bash
# Container images of the workers, built with buildah (no Docker engine
# needed) from deploy/Dockerfile.
#   deploy/images.sh [binary ...]      default: the six stages and the reftrack CLI (CronJobs)
# Env: IMAGE_REPO (default reftrack), IMAGE_TAG (default: git describe),
#      IMAGE_MODE auto|image|prebuilt (default auto: "image" when the Go base
#      image can be pulled, else "prebuilt": the host's Go builds static
#      binaries and a FROM scratch stage copies them, which needs no registry).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
REPO="${IMAGE_REPO:-reftrack}"
TAG="${IMAGE_TAG:-$(git describe --always --dirty 2>/dev/null || echo dev)}"
MODE="${IMAGE_MODE:-auto}"
GO_IMAGE="${GO_IMAGE:-docker.io/library/golang:1.26-bookworm}"
# Where overlay storage does not work (some unprivileged sandboxes), run
# with STORAGE_DRIVER=vfs.
bins=("$@")
((${#bins[@]})) || bins=(ingest validate dedupe attribute commission sink reftrack)

say() { echo "images: $*" >&2; }

command -v buildah >/dev/null || { say "buildah missing: apt-get install -y buildah (as root)"; exit 1; }

# module of a binary: the stages are their own; the tools live in a stage's module.
module_of() {
	case "$1" in
	dlq | reftrack) echo deploy ;;
	statements | whatif) echo commission ;;
	datadriven) echo attribute ;;
	*) echo "$1" ;;
	esac
}

if [[ $MODE == auto ]]; then
	if buildah pull --quiet "$GO_IMAGE" >/dev/null 2>&1; then MODE=image; else
		MODE=prebuilt
		say "cannot pull $GO_IMAGE (no registry reachable?): building the binaries with the host's Go"
	fi
fi

if [[ $MODE == prebuilt ]]; then
	mkdir -p bin/static
	cp /etc/ssl/certs/ca-certificates.crt bin/static/ca-certificates.crt
	for b in "${bins[@]}"; do
		(cd "$(module_of "$b")" && CGO_ENABLED=0 go build -trimpath -tags timetzdata -ldflags='-s -w' -o "../bin/static/$b" "./cmd/$b")
	done
fi

context=.
[[ $MODE == prebuilt ]] && context=bin/static
for b in "${bins[@]}"; do
	buildah bud --quiet --layers=false -f deploy/Dockerfile --target "$MODE" \
		--build-arg GO_IMAGE="$GO_IMAGE" --build-arg MODULE="$(module_of "$b")" --build-arg BIN="$b" \
		-t "$REPO/$b:$TAG" "$context" >/dev/null
	say "built $REPO/$b:$TAG ($MODE)"
done
buildah images --filter "reference=$REPO/*" 2>/dev/null || true
