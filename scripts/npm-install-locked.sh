#!/usr/bin/env bash
# Installs exactly what package-lock.json locks, in the current directory. The one way this
# repository installs npm dependencies: `make install` (so the CI setup action) and both install
# stages of the Dockerfile call it. Extra arguments go to npm:
#   bash scripts/npm-install-locked.sh --omit=dev --ignore-scripts
#
# `npm ci` first. npm 11 writes lock files without other platforms' optional packages
# (npm/cli#8320) and `npm ci` then refuses the lock: "Missing: @node-rs/bcrypt-darwin-arm64@… from
# lock file" on Linux, or the arm64 binary when an arm64 image is built. Only in that case the same
# lock is installed with `npm install --no-save`, which keeps every locked version, adds the
# platform's optional package and writes neither package.json nor the lock. Every other refusal (a
# dependency added to package.json without updating the lock, a locked version that no longer
# satisfies package.json, a network error) fails as npm ci would. After the fallback the installed
# tree is compared with the lock: same version of every locked package, nothing extra but optional
# platform packages.
set -euo pipefail

[ -f package-lock.json ] || { echo "npm-install-locked: no package-lock.json in $PWD" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp package-lock.json "$work/lock.json"

set +e
npm ci --no-audit --no-fund "$@" 2>&1 | tee "$work/npm-ci.log"
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] && exit 0

# check refusal <npm ci log>: may we fall back? check tree: does node_modules match the lock?
check() {
  node - "$@" <<'JS'
const fs = require('node:fs');
const [mode, log] = process.argv.slice(2);
const locked = JSON.parse(fs.readFileSync('package-lock.json', 'utf8')).packages ?? {};
// name -> the version specs locked packages declare for it as optional dependencies
const optional = new Map();
for (const entry of Object.values(locked)) {
  for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) optional.set(name, [...(optional.get(name) ?? []), spec]);
}
// An exact spec (what platform-binary packages declare) must be met exactly; a range is npm's to resolve.
const allowed = (name, version) => (optional.get(name) ?? []).some((spec) => spec === version || !/^\d+\.\d+\.\d+\S*$/.test(spec));
const problems = [];
if (mode === 'refusal') {
  // npm 10.5+ and 11 print `npm error`, older ones `npm ERR!` (the Dockerfile's base image has npm 10).
  const complaints = fs.readFileSync(log, 'utf8').split('\n').filter((line) => /^npm (error|ERR!) (Missing|Invalid): /.test(line));
  if (complaints.length === 0) problems.push('npm ci failed for another reason than the lock file (see above)');
  for (const line of complaints) {
    const name = line.match(/^npm (?:error|ERR!) Missing: (.+?)@[^@\s]* from lock file$/)?.[1];
    if (!name || !optional.has(name) || locked[`node_modules/${name}`]) problems.push(line.replace(/^npm (error|ERR!) /, ''));
  }
} else {
  const installed = JSON.parse(fs.readFileSync('node_modules/.package-lock.json', 'utf8')).packages ?? {};
  for (const [path, entry] of Object.entries(installed)) {
    const lock = locked[path];
    if (lock ? lock.version !== entry.version : !(entry.optional && allowed(path.replace(/^.*node_modules\//, ''), entry.version))) {
      problems.push(`${path}: installed ${entry.version}, locked ${lock?.version ?? 'nothing'}`);
    }
  }
}
for (const problem of problems) console.error(`npm-install-locked: ${problem}`);
process.exit(problems.length ? 1 : 0);
JS
}

if ! check refusal "$work/npm-ci.log"; then
  echo "npm-install-locked: npm ci failed and the lock file is not merely missing other platforms' packages;" \
    "if package.json changed, run 'npm install' and commit package-lock.json" >&2
  exit "$status"
fi

echo "npm-install-locked: npm ci refused the lock only for other platforms' optional packages;" \
  "installing the same lock with npm install --no-save" >&2
npm install --no-save --no-audit --no-fund "$@"
if ! cmp -s package-lock.json "$work/lock.json"; then
  cp "$work/lock.json" package-lock.json
  echo "npm-install-locked: npm install changed package-lock.json (restored); install with npm ci instead" >&2
  exit 1
fi
check tree
