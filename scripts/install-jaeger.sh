#!/usr/bin/env bash
# Build Jaeger v2 from the Go module proxy once, cache it under the home directory, and print
# the binary's path. `go install` refuses jaeger (its go.mod has replace directives), so the
# tool is added to a scratch module with `go get -tool` and built from there.
set -euo pipefail

VERSION="${JAEGER_VERSION:-v1.76.0}"
CACHE="${LLMOBSERVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/llmobserve}"
BIN="$CACHE/jaeger-$VERSION/jaeger"

if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi
command -v go >/dev/null || { echo "install-jaeger: Go is required (https://go.dev/dl/)" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
echo "install-jaeger: building jaeger $VERSION (a few minutes, once)" >&2
(
  cd "$WORK"
  go mod init llmobserve-jaeger-build >/dev/null 2>&1
  go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$VERSION" >&2
  mkdir -p "$(dirname "$BIN")"
  CGO_ENABLED=0 go build -trimpath -o "$BIN.tmp" github.com/jaegertracing/jaeger/cmd/jaeger >&2
  mv "$BIN.tmp" "$BIN"
)
echo "$BIN"
