/**
 * What keeps secrets out of log lines, in two passes that cost a line almost nothing when it
 * carries none:
 *
 *  - by key: a value under a key that names a secret (password, token, secret, authorization,
 *    cookie, api key, credential, any case, at any depth, in arrays too) is replaced. Only
 *    object-valued fields are walked, copy on write (the caller's objects are never changed);
 *    an Error anywhere is serialized first (pino's err serializer: type, message, stack, causes,
 *    own fields), so its fields are walked too. A line of plain values (the access log) is a
 *    loop over its keys and one cached lookup per key.
 *  - by text: the finished line is searched for a password in a URL (`scheme://user:pw@host`)
 *    and for `password=`/`token=`/`secret=`-style pairs (query strings, libpq keyword strings),
 *    which reach a line inside messages, error messages and stacks, format arguments and URL
 *    strings under innocent keys. A line without `://` or `=` is not searched.
 *
 * Why not pino's `redact` paths: pino 10 applies them with @pinojs/redact, which parses every
 * path again for every field of every line (a leading wildcard runs for each top-level value,
 * even a number). Measured per access-log line (Node 20, one core): ~1.5 µs without redaction,
 * ~5.5 µs with the 15 one-level paths this replaces, ~45 µs with wildcard paths two levels deep
 * for the keys below; ~2 µs with this.
 */
import { stdSerializers } from 'pino';

export const CENSOR = '[redacted]';

/** Keys whose values are secrets, whatever the case (`Authorization`, `JWT_SECRET`, `x-api-key`). */
const SECRET_KEY = /passw(?:or)?d|secret|token|authori[sz]ation|cookie|credential|api[-_]?key|private[-_]?key|^auth$/i;
/** Deeper than this, a value is replaced (and a circular one stops). */
const MAX_DEPTH = 10;

const verdicts = new Map<string, boolean>();
/** Keys seen are few (ours); a body's keys are not: past this many, keys are tested, not cached. */
const MAX_CACHED_KEYS = 2_000;

export function isSecretKey(key: string): boolean {
  let verdict = verdicts.get(key);
  if (verdict === undefined) {
    verdict = SECRET_KEY.test(key);
    if (verdicts.size < MAX_CACHED_KEYS) verdicts.set(key, verdict);
  }
  return verdict;
}

/** The fields of a log line (or a child's bindings) with every secret-keyed value replaced. */
export function redactFields(fields: Record<string, unknown>): Record<string, unknown> {
  try {
    return redactObject(fields, 0, []);
  } catch {
    // a getter that throws, say: nothing of the line can be vouched for
    return { redaction: 'failed: the fields of this line were dropped' };
  }
}

/** Any value as it should be logged: secrets under their keys replaced, Errors serialized. */
export function redactValue(value: unknown): unknown {
  return redact(value, 0, []);
}

function redact(value: unknown, depth: number, ancestors: object[]): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (ancestors.includes(value)) return '[Circular]';
  if (value instanceof Error) return redactObject(stdSerializers.err(value), depth, ancestors);
  if (ArrayBuffer.isView(value)) return value;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  // what JSON.stringify would write: a URL's href, a Date's ISO text
  if (typeof toJSON === 'function') return redact(toJSON.call(value), depth + 1, ancestors);
  if (Array.isArray(value)) {
    ancestors.push(value);
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const redacted = redact(item, depth + 1, ancestors);
      if (redacted !== item) (copy ??= value.slice())[i] = redacted;
    }
    ancestors.pop();
    return copy ?? value;
  }
  return redactObject(value as Record<string, unknown>, depth, ancestors);
}

function redactObject(object: Record<string, unknown>, depth: number, ancestors: object[]): Record<string, unknown> {
  ancestors.push(object);
  let copy: Record<string, unknown> | undefined;
  for (const key in object) {
    if (!Object.prototype.hasOwnProperty.call(object, key)) continue;
    const value = object[key];
    let redacted: unknown;
    if (isSecretKey(key)) redacted = value === undefined || value === null ? value : CENSOR;
    else if (typeof value === 'object' && value !== null) redacted = redact(value, depth + 1, ancestors);
    else continue;
    if (redacted !== value) (copy ??= { ...object })[key] = redacted;
  }
  ancestors.pop();
  return copy ?? object;
}

/** `scheme://user:password@` (the password may hold `@`; a JSON string's quote ends it). */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s"/?#@:]*):[^\s"/?#]*@/gi;
/** `password=…`, `access_token=…`, `client_secret=…` in a query string or a keyword string. */
const SECRET_PAIR = /([\w-]*(?:passw(?:or)?d|secret|token|api[-_]?key))=[^\s"&;,]+/gi;

/** Text with URL passwords and secret `key=value` pairs replaced (a log line, a message, a URL). */
export function redactText(text: string): string {
  let out = text;
  if (out.includes('://')) out = out.replace(URL_PASSWORD, `$1:${CENSOR}@`);
  if (out.includes('=')) out = out.replace(SECRET_PAIR, `$1=${CENSOR}`);
  return out;
}
