/**
 * The api's stdout logger buffers lines (4 KiB chunks): a lone line must still go out while the
 * process runs, and everything buffered must go out when it exits.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = path.resolve(__dirname, '../../..');
// tsx's loader in this process (its CLI would run the script in a grandchild that a kill misses)
const TSX = [
  '--require',
  path.join(ROOT, 'node_modules/tsx/dist/preflight.cjs'),
  '--import',
  pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href,
];
const LOGGER = path.join(ROOT, 'app/src/observability/logger.ts');

function run(script: string, until: (output: string) => boolean) {
  const child = spawn(process.execPath, [...TSX, '-e', `const { createLogger } = require(${JSON.stringify(LOGGER)});\n${script}`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  // a line that never comes fails the test here instead of at jest's timeout
  const giveUp = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise<{ output: string; code: number | null }>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (until(output)) child.kill('SIGKILL');
    });
    child.once('exit', (code) => {
      clearTimeout(giveUp);
      resolve({ output, code });
    });
  });
}

const lines = (output: string) =>
  output
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { msg: string });

it('writes a lone line while the process keeps running (no exit needed to see it)', async () => {
  const { output } = await run(
    `const logger = createLogger({ level: 'info', asyncStdout: true });\nlogger.info('alone');\nsetInterval(() => undefined, 1_000);`,
    (out) => out.includes('alone'),
  );
  expect(lines(output).map((line) => line.msg)).toEqual(['alone']);
});

it('writes every buffered line when the process exits', async () => {
  const { output, code } = await run(
    `const logger = createLogger({ level: 'info', asyncStdout: true });\nfor (let i = 0; i < 1000; i++) logger.info({ i }, 'line');\nprocess.exit(0);`,
    () => false,
  );
  expect(code).toBe(0);
  expect(lines(output)).toHaveLength(1000);
});
