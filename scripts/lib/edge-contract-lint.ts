/**
 * The two other published contracts through their field's linters (issue 21's standard):
 *  - the GraphQL schema (app/src/graphql/schema.graphql) with @graphql-eslint's schema rules
 *    (`flat/schema-recommended`, descriptions required on every type, field, argument and enum value);
 *  - the protos (proto/) with `buf lint` (STANDARD, buf.yaml) and `buf breaking` (FILE) against the
 *    protos of CONTRACTS_BASE (default `main`), taken with `git archive`: nothing to compare when
 *    that ref has none yet.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ESLint, type Linter } from 'eslint';
import graphqlPlugin from '@graphql-eslint/eslint-plugin';

const ROOT = path.resolve(__dirname, '..', '..');
export const GRAPHQL_SCHEMA = 'app/src/graphql/schema.graphql';

export interface EdgeFinding {
  linter: 'graphql-eslint' | 'buf lint' | 'buf breaking';
  rule: string;
  where: string;
  message: string;
}
export interface EdgeLintResult {
  errors: EdgeFinding[];
  warnings: EdgeFinding[];
  /** One-line note (e.g. what breaking compared against). */
  note?: string;
}

export async function lintGraphqlSchema(file = GRAPHQL_SCHEMA): Promise<EdgeLintResult> {
  const recommended = graphqlPlugin.configs['flat/schema-recommended'] as Linter.Config;
  const eslint = new ESLint({
    cwd: ROOT,
    overrideConfigFile: true,
    overrideConfig: [
      {
        files: ['**/*.graphql'],
        languageOptions: { parser: graphqlPlugin.parser, parserOptions: { graphQLConfig: { schema: path.join(ROOT, file) } } },
        plugins: { '@graphql-eslint': graphqlPlugin as unknown as ESLint.Plugin },
        rules: {
          ...recommended.rules,
          // Relay's wrappers (connections, edges, page info) and mutation payloads are not entities: they have no id.
          '@graphql-eslint/strict-id-in-types': [
            'error',
            { exceptions: { types: ['PageInfo'], suffixes: ['Connection', 'Edge', 'Payload'] } },
          ],
          '@graphql-eslint/require-description': [
            'error',
            {
              types: true,
              rootField: true,
              FieldDefinition: true,
              InputValueDefinition: true,
              EnumValueDefinition: true,
              DirectiveDefinition: true,
            },
          ],
        },
      },
    ],
  });
  const [result] = await eslint.lintFiles([path.join(ROOT, file)]);
  const findings = (result?.messages ?? []).map((message) => ({
    severity: message.severity,
    finding: {
      linter: 'graphql-eslint' as const,
      rule: message.ruleId ?? 'parse',
      where: `${file}:${message.line}:${message.column}`,
      message: message.message,
    },
  }));
  return {
    errors: findings.filter((f) => f.severity === 2).map((f) => f.finding),
    warnings: findings.filter((f) => f.severity !== 2).map((f) => f.finding),
  };
}

function buf(args: string[]): { stdout: string; stderr: string; status: number | null } {
  const result = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'buf'), args, { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  if (result.error) throw result.error;
  return { stdout: result.stdout, stderr: result.stderr, status: result.status };
}

/** buf's `--error-format json`: one object per line. */
function bufFindings(linter: EdgeFinding['linter'], stdout: string): EdgeFinding[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim().startsWith('{'))
    .map((line) => JSON.parse(line) as { path?: string; start_line?: number; type?: string; message?: string })
    .map((item) => ({
      linter,
      rule: item.type ?? 'unknown',
      where: `${item.path ?? ''}:${item.start_line ?? 0}`,
      message: item.message ?? '',
    }));
}

export function lintProtos(base = process.env.CONTRACTS_BASE ?? 'main'): EdgeLintResult {
  const lint = buf(['lint', '--error-format', 'json']);
  const errors = bufFindings('buf lint', lint.stdout);
  if (lint.status !== 0 && errors.length === 0) throw new Error(`buf lint failed: ${(lint.stderr || lint.stdout).trim().split('\n')[0]}`);

  const baseHasProtos = spawnSync('git', ['ls-tree', '-r', '--name-only', base, '--', 'proto'], {
    cwd: ROOT,
    encoding: 'utf8',
  }).stdout.includes('.proto');
  if (!baseHasProtos) return { errors, warnings: [], note: `breaking: ${base} has no protos yet` };
  const dir = mkdtempSync(path.join(tmpdir(), 'goticket-protos-'));
  try {
    const archive = execFileSync('git', ['archive', '--format=tar', base, '--', 'proto', 'buf.yaml'], {
      cwd: ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
    execFileSync('tar', ['-x', '-C', dir], { input: archive });
    const breaking = buf(['breaking', '--against', dir, '--error-format', 'json']);
    const broken = bufFindings('buf breaking', breaking.stdout);
    if (breaking.status !== 0 && broken.length === 0)
      throw new Error(`buf breaking failed: ${(breaking.stderr || breaking.stdout).trim().split('\n')[0]}`);
    return { errors: [...errors, ...broken], warnings: [], note: `breaking against ${base}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function edgeSummary(name: string, result: EdgeLintResult): string {
  return `${name}: ${result.errors.length} errors, ${result.warnings.length} warnings${result.note ? ` (${result.note})` : ''}`;
}
