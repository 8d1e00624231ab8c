import type { Pool } from 'pg';
import type { Logger } from '../../observability/logger';
import type { Outbox, OutboxMessage, PublishResult, RelayBatch, WakeUps } from '../../ports';
import { PgListener } from './listener';
import { inTransaction } from './pool';

/**
 * Claims up to $1 unpublished rows in `seq` order, skipping rows another relay holds. A row is
 * only taken when no earlier unpublished row of its aggregate lies outside this claim (held by
 * another relay or beyond the batch): events of one aggregate are published in order.
 */
export const CLAIM_SQL = `WITH candidates AS MATERIALIZED (
    SELECT id, seq, aggregate_id FROM outbox
     WHERE published_at IS NULL
     ORDER BY seq
     LIMIT $1
     FOR UPDATE SKIP LOCKED
  )
  SELECT o.id, o.type, o.aggregate_id, o.payload, o.headers, o.occurred_at
    FROM candidates c JOIN outbox o ON o.id = c.id
   WHERE NOT EXISTS (
     SELECT 1 FROM outbox p
      WHERE p.aggregate_id = c.aggregate_id AND p.published_at IS NULL AND p.seq < c.seq
        AND p.id NOT IN (SELECT id FROM candidates))
   ORDER BY c.seq`;

const MARK_PUBLISHED_SQL = `UPDATE outbox SET published_at = now(), attempts = attempts + 1, last_error = NULL
  WHERE id = ANY($1::uuid[])`;

const MARK_FAILED_SQL = `UPDATE outbox o SET attempts = o.attempts + 1, last_error = f.error
  FROM unnest($1::uuid[], $2::text[]) AS f(id, error) WHERE o.id = f.id`;

const BACKLOG_SQL = `SELECT count(*)::int AS count,
    COALESCE(EXTRACT(EPOCH FROM now() - min(occurred_at)), 0)::float8 AS oldest_age_seconds
  FROM outbox WHERE published_at IS NULL`;

const PRUNE_SQL = `DELETE FROM outbox WHERE id IN (
    SELECT id FROM outbox WHERE published_at < now() - make_interval(secs => $1::double precision / 1000)
     ORDER BY published_at LIMIT $2)`;

interface OutboxRow {
  id: string;
  type: string;
  aggregate_id: string;
  payload: Record<string, unknown>;
  headers: Record<string, unknown>;
  occurred_at: Date;
}

export class PostgresOutbox implements Outbox {
  constructor(private readonly pool: Pool) {}

  /**
   * One relay step in one transaction: claim a batch, hand it to `publish`, mark published
   * exactly the rows the broker confirmed. The row locks keep other relays off this batch
   * until the marks commit; a crash before the commit leaves the rows to be published again.
   */
  relayBatch(limit: number, publish: (messages: OutboxMessage[]) => Promise<PublishResult[]>): Promise<RelayBatch> {
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<OutboxRow>(CLAIM_SQL, [limit]);
      if (rows.length === 0) return { claimed: 0, published: 0, failed: 0 };
      const results = await publish(rows.map(toMessage));
      const ok = results.filter((r) => r.ok).map((r) => r.id);
      const failed = results.filter((r): r is Extract<PublishResult, { ok: false }> => !r.ok);
      if (ok.length > 0) await client.query(MARK_PUBLISHED_SQL, [ok]);
      if (failed.length > 0) {
        await client.query(MARK_FAILED_SQL, [failed.map((f) => f.id), failed.map((f) => f.error.message.slice(0, 1_000))]);
      }
      return { claimed: rows.length, published: ok.length, failed: failed.length };
    });
  }

  async backlog(): Promise<{ count: number; oldestAgeSeconds: number }> {
    const { rows } = await this.pool.query<{ count: number; oldest_age_seconds: number }>(BACKLOG_SQL);
    return { count: rows[0]!.count, oldestAgeSeconds: rows[0]!.oldest_age_seconds };
  }

  async prune(retentionMs: number, limit = 1_000): Promise<number> {
    const result = await this.pool.query(PRUNE_SQL, [retentionMs, limit]);
    return result.rowCount ?? 0;
  }
}

function toMessage(row: OutboxRow): OutboxMessage {
  return {
    id: row.id,
    type: row.type,
    occurredAt: row.occurred_at.toISOString(),
    aggregateId: row.aggregate_id,
    data: row.payload,
    headers: row.headers,
  };
}

/** NOTIFY'd by the outbox insert trigger (002_messaging.sql, 004). */
const OUTBOX_CHANNEL = 'goticket_outbox';

/** Wake-ups on every outbox insert: LISTEN on a kept connection, re-established when it drops. */
export class PostgresOutboxWakeUps implements WakeUps {
  private listener: PgListener | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly logger: Logger,
  ) {}

  async start(wake: () => void): Promise<void> {
    this.listener ??= new PgListener({ pool: this.pool, channel: OUTBOX_CHANNEL, logger: this.logger, onNotification: () => wake() });
    await this.listener.start();
  }

  async close(): Promise<void> {
    await this.listener?.close();
  }
}
