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
export const claimSql = (table: string) => `WITH candidates AS MATERIALIZED (
    SELECT id, seq, aggregate_id FROM ${table}
     WHERE published_at IS NULL
     ORDER BY seq
     LIMIT $1
     FOR UPDATE SKIP LOCKED
  )
  SELECT o.id, o.type, o.aggregate_id, o.payload, o.headers, o.occurred_at
    FROM candidates c JOIN ${table} o ON o.id = c.id
   WHERE NOT EXISTS (
     SELECT 1 FROM ${table} p
      WHERE p.aggregate_id = c.aggregate_id AND p.published_at IS NULL AND p.seq < c.seq
        AND p.id NOT IN (SELECT id FROM candidates))
   ORDER BY c.seq`;

const markPublishedSql = (table: string) => `UPDATE ${table} SET published_at = now(), attempts = attempts + 1, last_error = NULL
  WHERE id = ANY($1::uuid[])`;

const markFailedSql = (table: string) => `UPDATE ${table} o SET attempts = o.attempts + 1, last_error = f.error
  FROM unnest($1::uuid[], $2::text[]) AS f(id, error) WHERE o.id = f.id`;

const backlogSql = (table: string) => `SELECT count(*)::int AS count,
    COALESCE(EXTRACT(EPOCH FROM now() - min(occurred_at)), 0)::float8 AS oldest_age_seconds
  FROM ${table} WHERE published_at IS NULL`;

const pruneSql = (table: string) => `DELETE FROM ${table} WHERE id IN (
    SELECT id FROM ${table} WHERE published_at < now() - make_interval(secs => $1::double precision / 1000)
     ORDER BY published_at LIMIT $2)`;

interface OutboxRow {
  id: string;
  type: string;
  aggregate_id: string;
  payload: Record<string, unknown>;
  headers: Record<string, unknown>;
  occurred_at: Date;
}

/** The booking side's outbox (public.outbox); the payments service has its own (payments.outbox), same shape. */
export const OUTBOX_TABLE = 'outbox';

export class PostgresOutbox implements Outbox {
  private readonly sql: { claim: string; markPublished: string; markFailed: string; backlog: string; prune: string };

  /** `table`: a trusted, possibly schema-qualified name (ours, never input). */
  constructor(
    private readonly pool: Pool,
    table = OUTBOX_TABLE,
  ) {
    if (!/^[a-z_]+(\.[a-z_]+)?$/.test(table)) throw new Error(`not an outbox table name: ${table}`);
    this.sql = {
      claim: claimSql(table),
      markPublished: markPublishedSql(table),
      markFailed: markFailedSql(table),
      backlog: backlogSql(table),
      prune: pruneSql(table),
    };
  }

  /**
   * One relay step in one transaction: claim a batch, hand it to `publish`, mark published
   * exactly the rows the broker confirmed. The row locks keep other relays off this batch
   * until the marks commit; a crash before the commit leaves the rows to be published again.
   */
  relayBatch(limit: number, publish: (messages: OutboxMessage[]) => Promise<PublishResult[]>): Promise<RelayBatch> {
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<OutboxRow>(this.sql.claim, [limit]);
      if (rows.length === 0) return { claimed: 0, published: 0, failed: 0 };
      const results = await publish(rows.map(toMessage));
      const ok = results.filter((r) => r.ok).map((r) => r.id);
      const failed = results.filter((r): r is Extract<PublishResult, { ok: false }> => !r.ok);
      if (ok.length > 0) await client.query(this.sql.markPublished, [ok]);
      if (failed.length > 0) {
        await client.query(this.sql.markFailed, [failed.map((f) => f.id), failed.map((f) => f.error.message.slice(0, 1_000))]);
      }
      return { claimed: rows.length, published: ok.length, failed: failed.length };
    });
  }

  async backlog(): Promise<{ count: number; oldestAgeSeconds: number }> {
    const { rows } = await this.pool.query<{ count: number; oldest_age_seconds: number }>(this.sql.backlog);
    return { count: rows[0]!.count, oldestAgeSeconds: rows[0]!.oldest_age_seconds };
  }

  async prune(retentionMs: number, limit = 1_000): Promise<number> {
    const result = await this.pool.query(this.sql.prune, [retentionMs, limit]);
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

  /** `channel`: another outbox's (the payments service's goticket_payments_outbox). */
  constructor(
    private readonly pool: Pool,
    private readonly logger: Logger,
    private readonly channel = OUTBOX_CHANNEL,
  ) {}

  async start(wake: () => void): Promise<void> {
    this.listener ??= new PgListener({ pool: this.pool, channel: this.channel, logger: this.logger, onNotification: () => wake() });
    await this.listener.start();
  }

  async close(): Promise<void> {
    await this.listener?.close();
  }
}
