import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { localJwtSecret } from '../../src/adapters/local-jwt-secret';

let dir: string;
beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'jwt-secret-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('generates an owner-only key once, then returns the same key', () => {
  const dataDir = path.join(dir, 'nested', '.data');
  const first = localJwtSecret(dataDir);
  expect(first).toMatchObject({ file: path.join(dataDir, 'jwt.secret'), created: true });
  expect(Buffer.byteLength(first.secret)).toBeGreaterThanOrEqual(32);
  expect(statSync(first.file).mode & 0o777).toBe(0o600);
  expect(localJwtSecret(dataDir)).toEqual({ ...first, created: false });
  expect(localJwtSecret(path.join(dir, 'elsewhere')).secret).not.toBe(first.secret);
});

test('a file without a usable key (truncated, hand-edited) is replaced, not trusted', () => {
  const file = path.join(dir, 'jwt.secret');
  writeFileSync(file, 'short\n', { mode: 0o644 });
  const replaced = localJwtSecret(dir);
  expect(replaced.created).toBe(true);
  expect(readFileSync(file, 'utf8').trim()).toBe(replaced.secret);
  expect(statSync(file).mode & 0o777).toBe(0o600);
});

test('a key written by hand (at least 32 bytes) is used as it is', () => {
  const mine = 'x'.repeat(40);
  writeFileSync(path.join(dir, 'jwt.secret'), `  ${mine}\n`);
  expect(localJwtSecret(dir)).toMatchObject({ secret: mine, created: false });
});
