/**
 * Lints an OpenAPI document with the linters the API world uses, as their CLIs run them: Spectral
 * (`spectral:oas` + the OWASP API Security ruleset, with the project's overrides in .spectral.yaml)
 * and Redocly (`recommended`, redocly.yaml). Offline: Redocly's telemetry and update check are off.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'node_modules', '.bin');

export interface Finding {
  linter: 'spectral' | 'redocly';
  severity: 'error' | 'warning';
  rule: string;
  where: string;
  message: string;
}

export interface LintResult {
  errors: Finding[];
  warnings: Finding[];
}

const SPECTRAL_SEVERITY = ['error', 'warning', 'warning', 'warning'] as const; // error, warn, info, hint

function run(command: string, args: string[]): { stdout: string; stderr: string; status: number | null } {
  const result = spawnSync(path.join(BIN, command), args, {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
  });
  if (result.error) throw result.error;
  return { stdout: result.stdout, stderr: result.stderr, status: result.status };
}

function parseJson<T>(linter: string, text: string, stderr: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`${linter} printed no JSON report: ${(stderr || text).trim().split('\n').slice(0, 5).join(' | ')}`);
  }
}

function spectral(file: string, ruleset: string): Finding[] {
  const { stdout, stderr } = run('spectral', [
    'lint',
    file,
    '--ruleset',
    ruleset,
    '--format',
    'json',
    '--quiet',
    '--fail-severity',
    'error',
  ]);
  // Spectral prints "No results with a severity of 'error' found!" instead of [] when all is clean.
  const report = stdout.trim().startsWith('[')
    ? parseJson<Array<{ code: string; severity: number; path: string[]; message: string }>>('spectral', stdout, stderr)
    : [];
  if (!stdout.trim().startsWith('[') && stderr.trim()) throw new Error(`spectral failed: ${stderr.trim().split('\n')[0]}`);
  return report.map((item) => ({
    linter: 'spectral',
    severity: SPECTRAL_SEVERITY[item.severity] ?? 'warning',
    rule: item.code,
    where: item.path.join('.'),
    message: item.message,
  }));
}

function redocly(file: string, config: string): Finding[] {
  const { stdout, stderr } = run('redocly', ['lint', file, '--config', config, '--format', 'json']);
  const report = parseJson<{
    problems: Array<{ ruleId: string; severity: string; message: string; location?: Array<{ pointer?: string }> }>;
  }>('redocly', stdout, stderr);
  return report.problems.map((problem) => ({
    linter: 'redocly',
    severity: problem.severity === 'error' ? 'error' : 'warning',
    rule: problem.ruleId,
    where: problem.location?.[0]?.pointer ?? '',
    message: problem.message,
  }));
}

/** Both linters over `document`, with the committed rulesets unless others are given. */
export function lintOpenApi(document: unknown, rulesets: { spectral?: string; redocly?: string } = {}): LintResult {
  const dir = mkdtempSync(path.join(tmpdir(), 'goticket-contract-'));
  try {
    const file = path.join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(document, null, 2));
    const findings = [
      ...spectral(file, rulesets.spectral ?? path.join(ROOT, '.spectral.yaml')),
      ...redocly(file, rulesets.redocly ?? path.join(ROOT, 'redocly.yaml')),
    ];
    return { errors: findings.filter((f) => f.severity === 'error'), warnings: findings.filter((f) => f.severity === 'warning') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `openapi: 0 errors, 30 warnings (spectral 25, redocly 5)`. */
export function summary(name: string, result: LintResult): string {
  const count = (linter: Finding['linter']) => result.warnings.filter((w) => w.linter === linter).length;
  return `${name}: ${result.errors.length} errors, ${result.warnings.length} warnings (spectral ${count('spectral')}, redocly ${count('redocly')})`;
}
