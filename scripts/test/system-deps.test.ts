/**
 * scripts/system-deps.sh (run by `make test`): tested with a stand-in `apt-get` on a PATH that holds
 * none of the tools, so it installs all of them without touching the machine. apt-get's own notices
 * (debconf's "delaying package configuration" line goes to stderr even when all went well) reach
 * the terminal only when apt-get fails.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './github-files';

const SCRIPT = join(ROOT, 'scripts', 'system-deps.sh');
const DEBCONF = 'debconf: delaying package configuration, since apt-utils is not installed';

/** Logs its arguments and DEBIAN_FRONTEND, says what apt-get says on a machine without apt-utils, exits FAKE_APT_STATUS on install. */
const FAKE_APT = `#!/usr/bin/env bash
echo "$* DEBIAN_FRONTEND=\${DEBIAN_FRONTEND:-}" >> "$FAKE_LOG"
echo "${DEBCONF}" >&2
if [ "$1" = install ]; then echo "E: Unable to locate package prometheus" >&2; exit "$FAKE_APT_STATUS"; fi
`;

let bin: string;
let log: string;

beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'system-deps-'));
  bin = join(dir, 'bin');
  log = join(dir, 'apt.log');
  mkdirSync(bin);
  // Only what the script itself needs: none of the tools it checks for is on this PATH.
  for (const tool of ['bash', 'env', 'id', 'mktemp', 'cat', 'rm']) {
    const found = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    symlinkSync(found, join(bin, tool));
  }
  writeFileSync(join(bin, 'apt-get'), FAKE_APT);
  // run as a user, the script goes through sudo: this one only runs the command
  writeFileSync(join(bin, 'sudo'), '#!/usr/bin/env bash\nexec "$@"\n');
  for (const fake of ['apt-get', 'sudo']) chmodSync(join(bin, fake), 0o755);
});

afterAll(() => rmSync(join(bin, '..'), { recursive: true, force: true }));

function run(aptStatus: number) {
  writeFileSync(log, '');
  const result = spawnSync(join(bin, 'bash'), [SCRIPT], {
    encoding: 'utf8',
    env: { PATH: bin, FAKE_LOG: log, FAKE_APT_STATUS: String(aptStatus) },
  });
  return { ...result, calls: readFileSync(log, 'utf8').trim().split('\n') };
}

it('says one line when it installs, and nothing of what apt-get printed', () => {
  const result = run(0);
  expect(result.status).toBe(0);
  expect(result.stdout).toBe('');
  expect(result.stderr).toBe('system-deps: installing shellcheck openssl prometheus chromium\n');
  expect(result.calls).toEqual([
    'update -qq DEBIAN_FRONTEND=',
    'install -y -qq --no-install-recommends shellcheck openssl prometheus chromium DEBIAN_FRONTEND=noninteractive',
  ]);
});

it('shows what apt-get said, and its status, when it fails', () => {
  const result = run(100);
  expect(result.status).toBe(100);
  expect(result.stderr).toContain('E: Unable to locate package prometheus');
  expect(result.stderr).toContain(DEBCONF);
  expect(result.stderr).toContain('system-deps: failed: env DEBIAN_FRONTEND=noninteractive apt-get install');
});
