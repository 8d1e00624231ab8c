/**
 * The caller's deadline and cancellation, carried to the adapters without threading a parameter
 * through every use case: an edge runs a call inside `withCallSignal` (gRPC: the RPC's deadline,
 * or the client cancelling), and the PostgreSQL pool cancels the statement running for it on the
 * server (pg_cancel_backend) when the signal aborts, instead of letting it finish for nobody.
 * Work shared by several callers (a group-committed booking batch) runs `outsideCall`: one
 * caller leaving must not cancel the others' statement.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { DeadlineExceededError } from './domain/errors';

const scope = new AsyncLocalStorage<AbortSignal>();

export function withCallSignal<T>(signal: AbortSignal, fn: () => T): T {
  return scope.run(signal, fn);
}

/** The signal of the call this code runs for, if an edge set one. */
export function callSignal(): AbortSignal | undefined {
  return scope.getStore();
}

export function outsideCall<T>(fn: () => T): T {
  return scope.exit(fn);
}

/** Throws when the call is already over (deadline passed or cancelled): no work is started for it. */
export function assertCallOpen(signal: AbortSignal | undefined = callSignal()): void {
  if (signal?.aborted) throw new DeadlineExceededError();
}
