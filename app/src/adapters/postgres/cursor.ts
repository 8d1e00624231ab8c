import { ValidationError } from '../../domain/errors';

/** Opaque keyset cursor: base64url JSON of the last row's sort key. */
export interface CursorKey {
  t: string; // timestamp (ISO) of the sort column
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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
  if (typeof t !== 'string' || typeof id !== 'string' || !UUID.test(id) || Number.isNaN(Date.parse(t))) throw invalid();
  return { t, id };
}
