#!/usr/bin/env bash
# Installs the Debian tools the tests need when they are missing (apt-get as root, sudo otherwise).
set -euo pipefail

# command:debian-package, one per tool the test suite calls
TOOLS=(
  shellcheck:shellcheck
  openssl:openssl
  promtool:prometheus
  chromium:chromium
)

missing=()
for pair in "${TOOLS[@]}"; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "system-deps: need ${missing[*]}: run apt-get install -y ${missing[*]} as root" >&2; exit 1; }
  SUDO=sudo
fi
echo "system-deps: installing ${missing[*]}" >&2
# apt-get writes notices to stderr even when it works ("debconf: delaying package configuration, since
# apt-utils is not installed"): its output is shown only when it fails.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
quietly() {
  "$@" >"$log" 2>&1 || { local status=$?; cat "$log" >&2; echo "system-deps: failed: $*" >&2; exit "$status"; }
}
quietly $SUDO apt-get update -qq
quietly $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Debian's prometheus package enables a server on :9090; the tests start their own, on free ports.
if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true
fi
