#!/usr/bin/env bash
# Fails when the committed dist/ differs from a fresh synth of charts/ (offline, a few seconds).
# Argo CD syncs dist/<env> from git, so a chart change without `make synth` would never deploy.
set -euo pipefail
cd "$(dirname "$0")/.."

fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT

if ! node_modules/.bin/tsx charts/main.ts --outdir "$fresh" >/dev/null; then
  echo "drift: synth failed (see above)" >&2
  exit 1
fi

if ! diff -r -u dist "$fresh" >"$fresh.diff" 2>&1; then
  echo "drift: dist/ is not what charts/ synthesizes. Run 'make synth' and commit dist/:" >&2
  sed "s#$fresh#<fresh synth>#g" "$fresh.diff" | head -n 80 >&2
  rm -f "$fresh.diff"
  exit 1
fi
rm -f "$fresh.diff"
echo "drift: dist/ matches a fresh synth"
