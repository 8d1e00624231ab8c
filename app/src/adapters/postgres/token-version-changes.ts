import type { Pool } from 'pg';
import type { Logger } from '../../observability/logger';
import { PgListener } from './listener';

/** Written by migration 005's trigger: the id of a user whose token version changed (or who was deleted), after commit. */
export const TOKEN_VERSION_CHANNEL = 'goticket_token_version';

export interface TokenVersionChangeHandlers {
  /** The version of `userId` changed in PostgreSQL (through any replica, or by hand). */
  changed(userId: string): void;
  /** Notifications may have been missed (the LISTEN connection was lost): forget every kept version. */
  missed(): void;
}

/**
 * Hears every token version change, whichever replica made it and whether or not that replica
 * could reach Redis: PostgreSQL is the one thing every replica shares for sure. A lost LISTEN
 * connection is re-established (PgListener); what it may have missed meanwhile is forgotten.
 */
export function listenForTokenVersionChanges(pool: Pool, logger: Logger, handlers: TokenVersionChangeHandlers): PgListener {
  const listener = new PgListener({
    pool,
    channel: TOKEN_VERSION_CHANNEL,
    logger: logger.child({ component: 'token-version-changes' }),
    onNotification: (userId) => {
      if (userId) handlers.changed(userId);
    },
    onLost: () => handlers.missed(),
    onListening: (missedSince) => {
      if (missedSince !== undefined) handlers.missed();
    },
  });
  void listener.start();
  return listener;
}
