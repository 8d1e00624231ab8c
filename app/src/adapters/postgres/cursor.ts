import { ValidationError } from '../../domain/errors';

/** Opaque keyset cursor: base64url JSON of the last row's sort key. */
export interface CursorKey {
  t: string; // timestamp (ISO) of the sort column
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Exactly what encodeCursor writes (Date#toISOString, years 0001..9999): PostgreSQL reads every such value. */
const ISO_MS = /^(?!0000)\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A timestamp the cursor may carry: written by encodeCursor, and a real instant (no 30 February). */
function isCursorTime(t: unknown): t is string {
  if (typeof t !== 'string' || !ISO_MS.test(t)) return false;
  const time = new Date(t);
  return !Number.isNaN(time.getTime()) && time.toISOString() === t;
}

export function encodeCursor(time: Date, id: string): string {
  return Buffer.from(JSON.stringify({ t: time.toISOString(), id } satisfies CursorKey)).toString('base64url');
}

export function decodeCursor(cursor: string): CursorKey {
  const invalid = () => new ValidationError('invalid cursor', [{ path: 'cursor', message: 'is not a cursor returned by this API' }]);
  if (cursor.length > 200 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const { t, id } = (key ?? {}) as Partial<CursorKey>;
  // Date.parse accepts far more than PostgreSQL does ("1", "2020-02-30", year -271821): a forged
  // cursor must be a 400 here, never a driver error (500) in the query.
  if (!isCursorTime(t) || typeof id !== 'string' || !UUID.test(id)) throw invalid();
  return { t, id };
}
