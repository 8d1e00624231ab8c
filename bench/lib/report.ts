/** Targets, and the tables printed at the end of a run (Markdown, so they paste into bench/README.md). */
import type { BrowseResult } from '../scenarios/browse';
import type { CheckoutOpenLoopResult, CheckoutResult } from '../scenarios/checkout';
import type { CeilingResult } from '../scenarios/ceiling';
import type { NotifyResult } from '../scenarios/notify';
import type { OpenLoopResult } from '../scenarios/open-loop';
import type { ReadsResult } from '../scenarios/reads';
import type { StampedeResult } from '../scenarios/stampede';
import { fmt, ratio } from './stats';

import type { EdgesResult } from '../scenarios/edges';

export interface Results {
  stampede?: StampedeResult;
  ceiling?: CeilingResult;
  reads?: ReadsResult;
  browse?: BrowseResult;
  notify?: NotifyResult;
  edges?: EdgesResult;
  openLoop?: OpenLoopResult;
  checkout?: CheckoutResult;
  checkoutOpenLoop?: CheckoutOpenLoopResult;
}

export interface TargetCheck {
  target: string;
  measured: string;
  value: number;
  threshold: number;
  comparison: '>=' | '<=';
  met: boolean | null;
}

function check(target: string, value: number, comparison: '>=' | '<=', threshold: number, measured: string): TargetCheck {
  const met = Number.isFinite(value) ? (comparison === '>=' ? value >= threshold : value <= threshold) : null;
  return { target, measured, value, threshold, comparison, met };
}

export function evaluateTargets(r: Results): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const s = r.stampede;
  const c = r.ceiling;
  if (s && c) {
    const a = ratio(s.bookingsPerSecond, c.naive.tps);
    const b = ratio(s.bookingsPerSecond, c.single.tps);
    checks.push(
      check(
        'stampede bookings/s ≥ 1.0 × pgbench naive (a)',
        a,
        '>=',
        1.0,
        `${fmt(s.bookingsPerSecond)} ÷ ${fmt(c.naive.tps)} = ${a.toFixed(2)}×`,
      ),
    );
    checks.push(
      check(
        'stampede bookings/s ≥ 0.6 × pgbench single statement (b)',
        b,
        '>=',
        0.6,
        `${fmt(s.bookingsPerSecond)} ÷ ${fmt(c.single.tps)} = ${b.toFixed(2)}×`,
      ),
    );
  }
  const high = r.openLoop?.levels.find((level) => level.share === 0.8);
  if (high) {
    // replaces the closed-loop p99 target (64 connections in a closed loop only measure queue depth)
    checks.push(
      check(
        'booking p99 ≤ 50 ms at 80 % of the closed-loop rate (open loop)',
        high.latency.p99,
        '<=',
        50,
        `${high.latency.p99.toFixed(1)} ms at ${fmt(high.achievedRate)}/s`,
      ),
    );
    checks.push(
      check('api CPU per booking ≤ 400 µs (open loop, 80 %)', high.cpuPerBookingUs, '<=', 400, `${high.cpuPerBookingUs.toFixed(0)} µs`),
    );
  }
  if (s) {
    const x = ratio(s.rejectionsPerSecond, s.bookingsPerSecond);
    checks.push(
      check(
        'sold-out rejections/s ≥ 5 × bookings/s',
        x,
        '>=',
        5,
        `${fmt(s.rejectionsPerSecond)} ÷ ${fmt(s.bookingsPerSecond)} = ${x.toFixed(2)}×`,
      ),
    );
  }
  if (r.reads) {
    checks.push(
      check(
        'cached read ≥ 0.5 × bare node:http',
        r.reads.ratio,
        '>=',
        0.5,
        `${fmt(r.reads.api.rps)} ÷ ${fmt(r.reads.bare.rps)} = ${r.reads.ratio.toFixed(2)}×`,
      ),
    );
    checks.push(check('cached read p99 ≤ 10 ms', r.reads.api.latency.p99, '<=', 10, `${r.reads.api.latency.p99.toFixed(1)} ms`));
    const cpu = r.reads.cpuPerRequestUs;
    checks.push(
      check(
        'api CPU per cached read ≤ 3 × bare node:http',
        cpu.ratio,
        '<=',
        3,
        `${cpu.api.toFixed(1)} ÷ ${cpu.bare.toFixed(1)} µs = ${cpu.ratio.toFixed(2)}×`,
      ),
    );
  }
  const e = r.edges;
  if (e) {
    for (const edge of ['graphql', 'grpc'] as const) {
      const x = ratio(e.stampede[edge].bookingsPerSecond, e.stampede.rest.bookingsPerSecond);
      checks.push(
        check(
          `${edge} bookings/s ≥ 0.8 × REST (same harness)`,
          x,
          '>=',
          0.8,
          `${fmt(e.stampede[edge].bookingsPerSecond)} ÷ ${fmt(e.stampede.rest.bookingsPerSecond)} = ${x.toFixed(2)}×`,
        ),
      );
    }
    const g = ratio(e.reads.grpc.perSecond, e.reads.rest.perSecond);
    checks.push(
      check(
        'gRPC unary read ≥ 1.0 × REST cached read (same harness)',
        g,
        '>=',
        1.0,
        `${fmt(e.reads.grpc.perSecond)} ÷ ${fmt(e.reads.rest.perSecond)} = ${g.toFixed(2)}×`,
      ),
    );
  }
  const k = r.checkout;
  const ko = r.checkoutOpenLoop;
  if (k && ko) {
    // on the open-loop level: 64 connections in a closed loop only measure queue depth (64 ÷ rate, Little's law)
    const limit = 2 * k.providerLatencyMs + 200;
    checks.push(
      check(
        `checkout hold → confirmed p99 ≤ 2 × provider latency + 200 ms (= ${limit} ms) at ${Math.round(ko.share * 100)} % of the closed-loop rate (open loop)`,
        ko.holdToConfirmed.p99,
        '<=',
        limit,
        `${ko.holdToConfirmed.p99.toFixed(0)} ms at ${fmt(ko.achievedRate)}/s`,
      ),
    );
  }
  if (r.notify) checks.push(check('notification p99 ≤ 500 ms', r.notify.toRow.p99, '<=', 500, `${r.notify.toRow.p99.toFixed(0)} ms`));
  if (s)
    checks.push(
      check('api peak RSS ≤ 150 MB (during the stampede)', s.rss.peakSampledMb, '<=', 150, `${s.rss.peakSampledMb.toFixed(0)} MB`),
    );
  return checks;
}

export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

const ms = (v: number) => fmt(v, 'ms');
const lat = (l: { p50: number; p95: number; p99: number }) => `${ms(l.p50)} / ${ms(l.p95)} / ${ms(l.p99)}`;

export function measurementRows(r: Results): string[][] {
  const rows: string[][] = [];
  const s = r.stampede;
  if (s) {
    rows.push([
      '1 stampede',
      `bookings/s while seats remain (${fmt(s.seats)} seats, ${s.connections} conns)`,
      fmt(s.bookingsPerSecond),
      lat(s.phases.bookingLatency),
    ]);
    rows.push([
      '1 stampede',
      `rejections/s after sell-out (${fmt(s.phases.rejected)} attempts)`,
      fmt(s.rejectionsPerSecond),
      lat(s.phases.rejectionLatency),
    ]);
  }
  if (r.openLoop) {
    for (const level of r.openLoop.levels) {
      const l = level.latency;
      rows.push([
        '7 open loop',
        `bookings at ${Math.round(level.share * 100)} % of ${fmt(r.openLoop.closedLoopRate)}/s (target ${fmt(level.targetRate)}/s, achieved; latency p50 / p99 / p99.9 from the schedule)`,
        fmt(level.achievedRate),
        `${ms(l.p50)} / ${ms(l.p99)} / ${ms(l.p999)}`,
      ]);
      rows.push([
        '7 open loop',
        `api CPU per booking at ${Math.round(level.share * 100)} % (max ${fmt(level.maxInFlight)} in flight)`,
        fmt(level.cpuPerBookingUs, 'µs'),
        '',
      ]);
    }
  }
  const c = r.ceiling;
  if (c) {
    rows.push(['2 ceiling', `pgbench (a) naive transaction, ${c.clients} clients`, fmt(c.naive.tps), lat(c.naive.latency)]);
    rows.push(['2 ceiling', `pgbench (b) single statement, ${c.clients} clients`, fmt(c.single.tps), lat(c.single.latency)]);
    if (s) {
      rows.push(['2 ceiling', 'service ÷ (a)', `${ratio(s.bookingsPerSecond, c.naive.tps).toFixed(2)}×`, '']);
      rows.push(['2 ceiling', 'service ÷ (b)', `${ratio(s.bookingsPerSecond, c.single.tps).toFixed(2)}×`, '']);
    }
  }
  if (r.reads) {
    rows.push(['3 cached read', `GET /events/:id req/s (${r.reads.connections} conns)`, fmt(r.reads.api.rps), lat(r.reads.api.latency)]);
    rows.push(['3 cached read', 'bare node:http, same bytes, req/s', fmt(r.reads.bare.rps), lat(r.reads.bare.latency)]);
    rows.push(['3 cached read', 'api ÷ bare', `${r.reads.ratio.toFixed(2)}×`, '']);
    const cpu = r.reads.cpuPerRequestUs;
    rows.push([
      '3 cached read',
      'CPU per request: api / bare node:http (api ÷ bare)',
      `${fmt(cpu.api, 'µs')} / ${fmt(cpu.bare, 'µs')}`,
      `${cpu.ratio.toFixed(2)}×`,
    ]);
  }
  if (r.browse)
    rows.push([
      '4 browse',
      `GET /events filters + cursor pages over ${fmt(r.browse.events)} events, req/s`,
      fmt(r.browse.rps),
      lat(r.browse.latency),
    ]);
  if (r.notify) {
    rows.push([
      '5 notify',
      `confirm → notification row (${fmt(r.notify.confirms)} confirms at ${fmt(r.notify.confirmsPerSecond)}/s)`,
      '',
      lat(r.notify.toRow),
    ]);
    rows.push(['5 notify', 'confirm → mail handed over (sent_at)', '', lat(r.notify.toSent)]);
  }
  if (r.edges) {
    const e = r.edges;
    for (const edge of ['rest', 'graphql', 'grpc'] as const) {
      const b = e.stampede[edge];
      rows.push([
        '8 edges',
        `${edge} stampede bookings/s (${fmt(e.seats)} seats, ${e.connections} callers; api CPU ${b.cpuMsPerRequest.toFixed(2)} ms/req)`,
        fmt(b.bookingsPerSecond),
        lat(b.bookingLatency),
      ]);
    }
    for (const edge of ['rest', 'graphql', 'grpc'] as const) {
      const c = e.reads[edge];
      rows.push([
        '8 edges',
        `${edge} cached read req/s (api CPU ${c.cpuMsPerRequest.toFixed(2)} ms/req)`,
        fmt(c.perSecond),
        lat(c.latency),
      ]);
    }
  }
  const k = r.checkout;
  if (k) {
    const cpu = k.cpuPerCheckoutUs;
    rows.push([
      '9 checkout',
      `closed loop: checkouts/s, hold → confirmed (${fmt(k.confirmed)} of ${fmt(k.checkouts)}, ${k.connections} conns, provider ${k.providerLatencyMs} ms; latency ≈ ${k.connections} ÷ rate by Little's law: queue depth, not a buyer's wait)`,
      fmt(k.checkoutsPerSecond),
      lat(k.holdToConfirmed),
    ]);
    rows.push(['9 checkout', 'pay answered (202) → confirmed', '', lat(k.payToConfirmed)]);
    rows.push(['9 checkout', 'hold request / pay request', '', `${lat(k.holdLatency)} / ${lat(k.payLatency)}`]);
    rows.push([
      '9 checkout',
      `CPU per checkout: api + payments (api / payments; worker ${fmt(cpu.worker, 'µs')})`,
      fmt(cpu.apiPlusPayments, 'µs'),
      `${fmt(cpu.api, 'µs')} / ${fmt(cpu.payments, 'µs')}`,
    ]);
  }
  const ko = r.checkoutOpenLoop;
  if (ko) {
    const l = ko.holdToConfirmed;
    rows.push([
      '9 checkout',
      `open loop: checkouts at ${Math.round(ko.share * 100)} % of ${fmt(ko.closedLoopRate)}/s (target ${fmt(ko.targetRate)}/s, ${ko.confirmed.toLocaleString('en-US')} of ${ko.scheduled.toLocaleString('en-US')} confirmed, achieved; hold → confirmed p50 / p99 / p99.9 from the schedule)`,
      fmt(ko.achievedRate),
      `${ms(l.p50)} / ${ms(l.p99)} / ${ms(l.p999)}`,
    ]);
    rows.push([
      '9 checkout',
      `open loop: CPU per checkout api + payments (max ${ko.maxInFlight} in flight)`,
      fmt(ko.cpuPerCheckoutUs.apiPlusPayments, 'µs'),
      `${fmt(ko.cpuPerCheckoutUs.api, 'µs')} / ${fmt(ko.cpuPerCheckoutUs.payments, 'µs')}`,
    ]);
  }
  if (s) {
    const heap =
      s.heap.heap_size_used_mb !== undefined
        ? `; heap used ${s.heap.heap_size_used_mb} of ${s.heap.heap_size_total_mb} MB, external ${s.heap.external_memory_mb} MB`
        : '';
    rows.push([
      '6 memory',
      `api peak RSS during the stampede (${fmt(s.rss.beforeMb, 'MB')} before)`,
      fmt(s.rss.peakSampledMb, 'MB'),
      `VmHWM ${fmt(s.rss.hwmAfterMb, 'MB')}${heap}`,
    ]);
  }
  return rows;
}

export function renderReport(r: Results): string {
  const measurements = markdownTable(['scenario', 'measure', 'rate', 'latency p50 / p95 / p99'], measurementRows(r));
  const targets = markdownTable(
    ['target', 'measured', 'result'],
    evaluateTargets(r).map((t) => [t.target, t.measured, t.met === null ? 'n/a' : t.met ? 'met' : 'MISSED']),
  );
  return `${measurements}\n\n${targets}`;
}
