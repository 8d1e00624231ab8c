/** Summarizes a V8 .cpuprofile (node --cpu-prof): self time per function and per package. */
import { readFileSync } from 'node:fs';
import { markdownTable } from './report';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  name: string;
  where: string;
  ms: number;
  percent: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** ms not idle, not (program), not GC */
  busyMs: number;
  top: SelfTime[];
  byPackage: SelfTime[];
}

/** "express", "pg", "app: http/middleware.ts", "node: internal/…", or the special V8 entries. */
export function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return 'node core';
  const app = url.indexOf('/app/');
  if (app >= 0) return `app: ${url.slice(app + '/app/'.length)}`;
  return url.replace(/^file:\/\//, '');
}

function shortUrl(url: string, line: number): string {
  const modules = url.lastIndexOf('node_modules/');
  const short =
    modules >= 0
      ? url.slice(modules + 'node_modules/'.length)
      : url.replace(/^file:\/\/.*\/build\/bench-[^/]+\//, '').replace(/^file:\/\//, '');
  return short ? `${short}:${line + 1}` : '';
}

/** A slice of the profile: CLOCK_MONOTONIC microseconds, as process.hrtime.bigint() / 1000 in any process on the machine. */
export interface Window {
  fromUs: number;
  toUs: number;
}

/** The monotonic clock V8 stamps profiles with, in µs. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export function summarizeProfile(profile: CpuProfile, limit = 25, window?: Window): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  if (profile.samples && profile.timeDeltas) {
    let at = profile.startTime;
    for (let i = 0; i < profile.samples.length; i++) {
      at += profile.timeDeltas[i] ?? 0;
      if (window && (at < window.fromUs || at > window.toUs)) continue;
      const id = profile.samples[i]!;
      selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0));
    }
  } else {
    const interval =
      (profile.endTime - profile.startTime) /
      Math.max(
        1,
        profile.nodes.reduce((n, node) => n + (node.hitCount ?? 0), 0),
      );
    for (const node of profile.nodes) selfUs.set(node.id, (node.hitCount ?? 0) * interval);
  }
  const fn = new Map<string, { name: string; where: string; us: number }>();
  const pkg = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    const name = functionName || '(anonymous)';
    const key = `${name}@${url}:${lineNumber}`;
    const entry = fn.get(key) ?? { name, where: shortUrl(url, lineNumber), us: 0 };
    entry.us += us;
    fn.set(key, entry);
    const p = packageOf(url, name);
    pkg.set(p, (pkg.get(p) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us: number) => (busy > 0 ? (us * 100) / busy : 0);
  return {
    totalMs: total / 1000,
    busyMs: busy / 1000,
    top: [...fn.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, limit)
      .map((e) => ({ name: e.name, where: e.where, ms: e.us / 1000, percent: pct(e.us) })),
    byPackage: [...pkg.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, us]) => ({ name, where: '', ms: us / 1000, percent: pct(us) })),
  };
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

export function summarizeProfileFile(file: string, limit = 25, window?: Window): ProfileSummary {
  return summarizeProfile(readProfile(file), limit, window);
}

export function renderProfile(summary: ProfileSummary, packagesToo = true): string {
  const head = `busy ${summary.busyMs.toFixed(0)} ms of ${summary.totalMs.toFixed(0)} ms profiled (percentages of busy time)`;
  const top = markdownTable(
    ['self ms', '%', 'function', 'where'],
    summary.top.map((t) => [t.ms.toFixed(0), t.percent.toFixed(1), t.name, t.where]),
  );
  const packages = markdownTable(
    ['self ms', '%', 'package / file'],
    summary.byPackage.slice(0, 15).map((t) => [t.ms.toFixed(0), t.percent.toFixed(1), t.name]),
  );
  return packagesToo ? `${head}\n\n${top}\n\n${packages}` : `${head}\n\n${top}`;
}
