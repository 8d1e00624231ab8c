/**
 * `npm run seal -- --env <env> --name <secret> --key <KEY> < value`
 *
 * Seals one value read from stdin into `charts/secrets/<env>/<secret>.yaml` (strict scope,
 * namespace goticket) with the environment's certificate `charts/secrets/<env>.pem`.
 * The value is never written to disk or taken from argv (shell history); other keys already
 * in the file are kept. One trailing newline (from `echo`) is dropped.
 * `--cert <pem>` and `--dir <folder>` override the defaults (tests, freshly fetched certs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { environment } from '../environments';
import { configData } from '../goticket';
import { DEPENDENCY_KEYS, NAMESPACE, RUNTIME_KEYS, RUNTIME_SECRET } from '../../platform/contract';
import { emptySealedSecret, parseSealedSecret, publicKeyFromPem, sealInto, toYaml } from './sealing';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const ENV_VAR = /^[A-Z_][A-Z0-9_]*$/;
/** Names other owners create: Pulumi (runtime credentials) and cert-manager (TLS). */
const RESERVED_NAMES = new Set([RUNTIME_SECRET, 'goticket-tls']);
/** Keys Pulumi writes into RUNTIME_SECRET: the service's, and the dev dependencies' passwords. */
const PULUMI_KEYS: readonly string[] = [...RUNTIME_KEYS, ...DEPENDENCY_KEYS];

function usage(problem: string): never {
  throw new Error(`${problem}\nusage: npm run seal -- --env <env> --name <secret> --key <KEY> [--cert <pem>] [--dir <folder>] < value`);
}

async function readStdin(): Promise<Buffer> {
  if (process.stdin.isTTY) process.stderr.write('Type or paste the value, then Ctrl-D:\n');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function seal(argv: string[]): Promise<string> {
  const { values } = parseArgs({
    args: argv,
    options: {
      env: { type: 'string' },
      name: { type: 'string' },
      key: { type: 'string' },
      cert: { type: 'string' },
      dir: { type: 'string' },
    },
    strict: true,
  });
  if (!values.env || !values.name || !values.key) usage('--env, --name and --key are required');
  const env = environment(values.env);
  const { name, key } = values;
  if (!DNS_SUBDOMAIN.test(name) || name.length > 253) usage(`--name ${name} is not a valid Secret name`);
  if (RESERVED_NAMES.has(name)) usage(`--name ${name} is managed elsewhere (Pulumi or cert-manager)`);
  if (!ENV_VAR.test(key))
    usage(`--key ${key} must be an environment variable name (A-Z, 0-9, _): sealed keys join the service's environment`);
  if (PULUMI_KEYS.includes(key) || key in configData(env))
    usage(`--key ${key} is already set by ${RUNTIME_SECRET} or the ConfigMap; a second source would silently override it`);

  const dir = values.dir ?? __dirname;
  const certFile = values.cert ?? path.join(dir, `${env.name}.pem`);
  if (!fs.existsSync(certFile)) {
    usage(
      `no sealing certificate at ${certFile}: \`pulumi stack output --stack ${env.name} sealingCertificate > ${certFile}\` (or \`kubeseal --fetch-cert\`)`,
    );
  }
  const publicKey = publicKeyFromPem(fs.readFileSync(certFile, 'utf8'));

  let value = await readStdin();
  if (value.subarray(-2).toString() === '\r\n') value = value.subarray(0, -2);
  else if (value.subarray(-1).toString() === '\n') value = value.subarray(0, -1);
  if (!value.length) usage('the value on stdin is empty');

  const file = path.join(dir, env.name, `${name}.yaml`);
  const current = fs.existsSync(file)
    ? parseSealedSecret(fs.readFileSync(file, 'utf8'), file, NAMESPACE)
    : emptySealedSecret(name, NAMESPACE);
  const updated = sealInto(current, key, value, publicKey);
  value.fill(0);

  // Atomic replace: a crash never leaves half a file behind.
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, toYaml(updated));
  fs.renameSync(tmp, file);
  return file;
}

if (require.main === module) {
  seal(process.argv.slice(2)).then(
    (file) => console.error(`sealed into ${path.relative(process.cwd(), file)}: commit it, then run make synth`),
    (error: unknown) => {
      console.error(`seal: ${(error as Error).message}`);
      process.exit(1);
    },
  );
}
