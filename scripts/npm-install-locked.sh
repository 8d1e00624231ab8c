#!/usr/bin/env bash
# Installs exactly what package-lock.json locks, in the current directory: `npm ci`. The one way
# this repository installs npm dependencies: `make install` (so the CI setup action) and both
# install stages of the Dockerfile call it. Extra arguments go to npm:
#   bash scripts/npm-install-locked.sh --omit=dev --ignore-scripts
#
# Quiet on success (one line): npm's warnings (EBADENGINE on Node 20 for packages that want Node 22,
# docs/onboarding.md) would bury what matters. On failure npm's own complaint is shown without the usage
# text npm appends to it, with one line saying what to do.
#
# The lock holds every platform's optional packages, so `npm ci` accepts it on any machine
# (linux-arm64 images, macOS). A dependency whose platform packages are not all published (as
# @node-rs/bcrypt 2.0.0: only linux-x64-gnu) cannot be locked so: npm ci refuses it everywhere
# ("Missing: <pkg>@ from lock file", the version empty) and this script says so.
set -euo pipefail

[ -f package-lock.json ] || { echo "npm-install-locked: no package-lock.json in $PWD" >&2; exit 1; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT

set +e
npm ci --no-audit --no-fund --loglevel=error "$@" >"$log" 2>&1
status=$?
set -e
if [ "$status" -eq 0 ]; then
  echo "npm-install-locked: node_modules installed from package-lock.json (npm ci)"
  exit 0
fi

# npm's complaint, then (after "Clean install a project") its usage text, then the debug log's path.
awk '/^npm (error|ERR!) Clean install a project/ { usage = 1 } /complete log of this run/ { usage = 0 } !usage' "$log" >&2
if grep -qE '^npm (error|ERR!) Missing: .+@ from lock file$' "$log"; then
  echo "npm-install-locked: a locked package declares optional packages the registry does not have" \
    "(the names above, with no version); pin a release of it whose platform packages are all published" >&2
elif grep -qE '^npm (error|ERR!) (Missing|Invalid): ' "$log"; then
  echo "npm-install-locked: package.json and package-lock.json disagree; run 'npm install' and commit package-lock.json" >&2
fi
exit "$status"
