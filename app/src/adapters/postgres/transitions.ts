import { sourcesOf, type BookingStatus } from '../../domain/booking';

/**
 * The SQL guard of a move to `to`, derived from the domain's state machine (TRANSITIONS): e.g.
 * `status IN ('pending', 'confirmed')` for cancelled. Statuses are identifiers of the domain, written
 * as literals so the statements stay static (and a one-status list is planned as `status = …`,
 * which the partial indexes on `status = 'pending'` match).
 */
export function fromStatusGuard(to: BookingStatus, column = 'status'): string {
  const sources = sourcesOf(to);
  if (sources.length === 0) throw new Error(`no status moves to ${to}`);
  for (const status of sources) if (!/^[a-z_]+$/.test(status)) throw new Error(`not a status identifier: ${status}`);
  return `${column} IN (${sources.map((status) => `'${status}'`).join(', ')})`;
}
