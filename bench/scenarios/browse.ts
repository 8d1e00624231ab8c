/** 4. Browsing: GET /events with filters, following nextCursor page after page, over the seeded events. */
import type autocannon from 'autocannon';
import type { BenchContext } from '../lib/context';
import { runLoad } from '../lib/load';
import { progress } from '../lib/progress';
import { rate, summarize, type LatencySummary } from '../lib/stats';

/** Pages followed per filter before a connection moves on to the next filter. */
const PAGES_PER_FILTER = 5;

export function browseFilters(now = Date.now()): string[] {
  const day = 86_400_000;
  const iso = (ms: number) => encodeURIComponent(new Date(ms).toISOString());
  return [
    'limit=20',
    'limit=50&minPrice=2000&maxPrice=8000',
    `from=${iso(now + 30 * day)}&to=${iso(now + 120 * day)}&limit=20`,
    'q=jazz&limit=20',
    'q=lisbon&minPrice=1000&maxPrice=15000&limit=10',
  ];
}

interface BrowseState {
  filter: number;
  cursor: string | null;
  page: number;
}

export interface BrowseResult {
  events: number;
  connections: number;
  filters: string[];
  requests: number;
  rps: number;
  pagesFollowed: number;
  latency: LatencySummary;
  problems: string[];
}

export async function browse(ctx: BenchContext): Promise<BrowseResult> {
  const filters = browseFilters();
  const connections = ctx.options.connections;
  const { rows } = await ctx.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM events WHERE deleted_at IS NULL');
  progress.step(
    `browsing: GET /api/v1/events with ${filters.length} filter sets, up to ${PAGES_PER_FILTER} pages each, over ${rows[0]!.n.toLocaleString('en-US')} events, ${connections} connections, ${ctx.options.sizes.browseSeconds}s`,
  );
  let pagesFollowed = 0;
  let clients = 0;
  const basePath = new URL(ctx.apiBase).pathname;
  const request: autocannon.Request = {
    method: 'GET',
    setupRequest: (req, context) => {
      const state = context as Partial<BrowseState>;
      if (state.filter === undefined) Object.assign(state, { filter: clients++ % filters.length, cursor: null, page: 0 });
      const query = filters[state.filter!]! + (state.cursor ? `&cursor=${encodeURIComponent(state.cursor)}` : '');
      return { ...req, path: `${basePath}/events?${query}` };
    },
    onResponse: (status, body, context) => {
      const state = context as BrowseState;
      const cursor = status === 200 ? /"nextCursor":"([^"]+)"/.exec(body)?.[1] : undefined;
      if (cursor && state.page + 1 < PAGES_PER_FILTER) {
        state.cursor = cursor;
        state.page++;
        pagesFollowed++;
      } else {
        state.filter = (state.filter + 1) % filters.length;
        state.cursor = null;
        state.page = 0;
      }
    },
  };
  const load = await runLoad({
    label: 'browse',
    url: ctx.apiBase,
    connections,
    durationSeconds: ctx.options.sizes.browseSeconds,
    requests: [request],
  });
  const problems: string[] = [];
  const wrong = Object.entries(load.statusCounts).filter(([code]) => code !== '200');
  if (wrong.length || load.errors) problems.push(`browse: statuses ${JSON.stringify(load.statusCounts)}, ${load.errors} errors`);
  const requests = load.samples.status.length;
  const result = {
    events: rows[0]!.n,
    connections,
    filters,
    requests,
    rps: rate(requests, load.elapsedMs),
    pagesFollowed,
    latency: summarize(load.samples.latencyMs),
    problems,
  };
  progress.info(
    `browse: ${result.rps.toFixed(0)} req/s, p50 ${result.latency.p50.toFixed(1)} ms, p99 ${result.latency.p99.toFixed(1)} ms, ${pagesFollowed} next pages followed`,
  );
  return result;
}
