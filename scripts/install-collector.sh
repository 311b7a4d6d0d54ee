#!/usr/bin/env bash
# Build llmobserve's OpenTelemetry Collector from deploy/otelcol-builder.yaml, cache it under the
# home directory, and print the binary's path (like scripts/install-jaeger.sh).
#
# The builder (ocb) is installed once per version with `go install`; the Collector is rebuilt only
# when the manifest changes, since its cache folder is keyed by the builder version and the
# manifest's hash. A cold build takes several minutes on two cores; a cached one prints at once.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MANIFEST="$ROOT/deploy/otelcol-builder.yaml"
# Must be the release every module in the manifest is pinned to (a test checks this).
VERSION="${OTELCOL_BUILDER_VERSION:-v0.161.0}"
CACHE="${LLMOBSERVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/llmobserve}"
HASH="$(sha256sum "$MANIFEST" | cut -c1-12)"
BIN="$CACHE/otelcol-llmobserve-$VERSION-$HASH/otelcol-llmobserve"
BUILDER="$CACHE/ocb-$VERSION/builder"

if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi
command -v go >/dev/null || { echo "install-collector: Go is required (https://go.dev/dl/)" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

if [[ ! -x "$BUILDER" ]]; then
  echo "install-collector: installing the collector builder $VERSION" >&2
  GOBIN="$WORK/gobin" go install "go.opentelemetry.io/collector/cmd/builder@$VERSION" >&2
  mkdir -p "$(dirname "$BUILDER")"
  mv "$WORK/gobin/builder" "$BUILDER"
fi

echo "install-collector: building the collector from $MANIFEST (a few minutes, once)" >&2
(
  # The manifest's output_path is relative: sources and binary land in this scratch folder.
  cd "$WORK"
  "$BUILDER" --config "$MANIFEST" >&2
  mkdir -p "$(dirname "$BIN")"
  mv otelcol-llmobserve/otelcol-llmobserve "$BIN.tmp"
  mv "$BIN.tmp" "$BIN"
)
echo "$BIN"
