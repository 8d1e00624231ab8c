/** Small readers for loosely typed property bags (resource inputs, parsed YAML). */
import type { Props } from './types';

/** Pulumi's marker for a secret value as mocks and the engine serialize it. */
const SECRET_SIG = '4dabf18193072939515e22adb298388d';
const SECRET_VALUE = '1b47061264138c4ac30d75fd1eb44270';

export function isRecord(v: unknown): v is Props {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Replaces serialized Pulumi secrets `{<sig>: <secret>, value}` by their value, recursively. */
export function unwrapSecrets(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (!isRecord(v)) return v;
  if (v[SECRET_SIG] === SECRET_VALUE) return unwrapSecrets(v.value);
  const out: Props = {};
  for (const [k, x] of Object.entries(v)) out[k] = unwrapSecrets(x);
  return out;
}

export function record(v: unknown): Props {
  return isRecord(v) ? v : {};
}

export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function records(v: unknown): Props[] {
  return list(v).filter(isRecord);
}

export function strings(v: unknown): string[] {
  return list(v).filter((x): x is string => typeof x === 'string');
}

/** The string (or number) entries of a map, e.g. labels or tags. */
export function stringRecord(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(record(v))) {
    const s = str(x);
    if (s !== undefined) out[k] = s;
  }
  return out;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

/** Accepts the booleans the engine sends and the strings YAML or older providers may carry. */
export function bool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return undefined;
}

export function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

/** Present and not empty: a non-empty string, list or object, or any number or boolean. */
export function present(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (isRecord(v)) return Object.keys(v).length > 0;
  return true;
}

/** Reads a dotted path, e.g. get(props, 'vpcConfig.endpointPublicAccess'). */
export function get(v: unknown, path: string): unknown {
  let cur: unknown = v;
  for (const key of path.split('.')) {
    if (!isRecord(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}
