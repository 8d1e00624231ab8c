/**
 * SQL status guards built from the domain's state machine (domain/booking.ts), so the stores
 * enforce exactly the transitions the domain allows: a guard naming a move the table does not
 * have fails when this module loads (every store statement is built at import), not in production.
 */
import { BOOKING_STATUSES, canTransition, sourcesOf, type BookingStatus } from '../../domain/booking';

/** `'a', 'b'`: the statuses are the domain's own literals (checked), never user input. */
export function sqlStatuses(statuses: readonly BookingStatus[]): string {
  for (const status of statuses) {
    if (!(BOOKING_STATUSES as readonly string[]).includes(status)) throw new Error(`unknown booking status ${JSON.stringify(status)}`);
  }
  if (statuses.length === 0) throw new Error('a status guard needs at least one status');
  return statuses.map((s) => `'${s}'`).join(', ');
}

/**
 * `<column> IN (…from)` for a statement that moves bookings from `from` to `to`; throws unless the
 * domain allows every one of those moves. Without `from`: every status the domain lets reach `to`.
 */
export function transitionGuard(to: BookingStatus, from: readonly BookingStatus[] = sourcesOf(to), column = 'status'): string {
  for (const source of from) {
    if (!canTransition(source, to)) throw new Error(`the booking state machine has no transition ${source} → ${to}`);
  }
  return `${column} IN (${sqlStatuses(from)})`;
}

/** Every guard built, for the test that replays them against the domain table. */
export const BUILT_GUARDS: Array<{ from: readonly BookingStatus[]; to: BookingStatus }> = [];

/** transitionGuard, recorded in BUILT_GUARDS. */
export function guard(to: BookingStatus, from: readonly BookingStatus[] = sourcesOf(to), column = 'status'): string {
  const sql = transitionGuard(to, from, column);
  BUILT_GUARDS.push({ from: [...from], to });
  return sql;
}
