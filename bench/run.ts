/**
 * `make bench` (BENCH_ARGS="--quick"): the ticket stampede measured side by side with the
 * database's own ceiling. Builds on `make build`; starts `api`, `worker` and (unless the checkout
 * scenario is skipped) `payments` as separate production-mode processes against the local
 * PostgreSQL, Redis and RabbitMQ, each run in its own database and AMQP prefix, the payments role
 * against a local Stripe-compatible server in this process; prints a table and writes
 * bench/results/<timestamp>.json. See bench/README.md.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deleteRunTopology } from './lib/amqp';
import { deleteRunKeys } from './lib/redis';
import { parseArgs, USAGE, UsageError, type BenchOptions, type ScenarioName } from './lib/cli';
import { callApi, mapConcurrent, type BenchContext, type SignedInUser } from './lib/context';
import { monotonicUs, readProfile, renderProfile, summarizeProfile, type ProfileSummary, type Window } from './lib/cpuprofile';
import { BENCH_PASSWORD, createDatabase, seedBrowseEvents, seedUsers, serverVersion, type BenchDatabase } from './lib/database';
import { AMQP_URL, BENCH_BCRYPT_COST, REDIS_URL, newJwtSecret, passthroughEnv, rateLimitOverrides, serviceEnv } from './lib/env';
import { checkInvariants, InvariantError, type InvariantReport } from './lib/invariants';
import { complaints, type LogComplaint } from './lib/logs';
import { findPgbench } from './lib/pgbench';
import { progress } from './lib/progress';
import { evaluateTargets, renderReport, type Results } from './lib/report';
import { freePort } from '../scripts/lib/free-port';
import { ProviderThread } from './lib/provider';
import { removeSnapshot, ROOT, snapshotBuild, startService, type ServiceProcess } from './lib/services';
import { WEBHOOK_PATH } from '../app/src/payments/webhook';
import { browse } from './scenarios/browse';
import { checkout, checkoutOpenLoop } from './scenarios/checkout';
import { edges } from './scenarios/edges';
import { ceiling } from './scenarios/ceiling';
import { notify } from './scenarios/notify';
import { openLoop } from './scenarios/open-loop';
import { reads } from './scenarios/reads';
import { stampede } from './scenarios/stampede';

const RESULTS_DIR = path.join(ROOT, 'bench/results');
/** The local provider's latency per request in the checkout scenario (the target is 2 × this + 200 ms). */
const PROVIDER_LATENCY_MS = 50;

function runIdNow(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    loadAverage: os.loadavg().map((n) => Math.round(n * 100) / 100),
  };
}

/** Cleanup steps, run once in reverse order (also on Ctrl-C). */
const cleanups: Array<{ name: string; run: () => Promise<unknown> }> = [];
let cleaning: Promise<void> | null = null;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const step of cleanups.reverse()) {
      await step.run().catch((error: unknown) => progress.warn(`cleanup ${step.name}: ${(error as Error).message}`));
    }
  })();
  return cleaning;
}

async function signIn(apiBase: string, users: Array<{ id: string; email: string }>): Promise<SignedInUser[]> {
  return mapConcurrent(users, 8, async (user) => {
    const { body } = await callApi<{ accessToken: string }>(`${apiBase}/auth/login`, {
      body: { email: user.email, password: BENCH_PASSWORD },
      expect: [200],
    });
    return { ...user, token: body.accessToken };
  });
}

async function run(options: BenchOptions): Promise<number> {
  const runId = runIdNow();
  const name = `goticket_bench_${runId.replace('-', '_')}`;
  const startedAt = new Date().toISOString();
  const machineAtStart = machine();
  const invariants: InvariantReport[] = [];
  const results: Results = {};
  let profile: ProfileSummary | undefined;
  const scenarioProfiles: Record<string, ProfileSummary> = {};
  const windows: Record<string, Window> = {};
  const timed = async <T>(scenario: string, fn: () => Promise<T>): Promise<T> => {
    const fromUs = monotonicUs();
    try {
      return await fn();
    } finally {
      windows[scenario] = { fromUs, toUs: monotonicUs() };
    }
  };
  let failure: string | undefined;
  let pgVersion = 'unknown';
  const envForReport: Record<string, string> = {};
  let logs: string[] = [];

  progress.step(
    `GoTicket bench ${runId}${options.quick ? ' (--quick)' : ''}: ${machineAtStart.cpus} × ${machineAtStart.cpuModel}, load average ${machineAtStart.loadAverage.join(' ')}`,
  );
  try {
    const pgbench = findPgbench();
    if (!pgbench) {
      throw new Error(
        'pgbench not found: it ships with PostgreSQL (Debian: package postgresql-15 → /usr/lib/postgresql/15/bin/pgbench); install it or put it on PATH',
      );
    }

    const snapshot = snapshotBuild(runId);
    cleanups.push({ name: 'build snapshot', run: async () => removeSnapshot(snapshot) });

    progress.step(`database ${name}, AMQP prefix ${name}, Redis key prefix ${name}:`);
    const db: BenchDatabase = await createDatabase(name);
    cleanups.push({
      name: 'database',
      run: () => (options.keepDb ? (progress.info(`kept database ${name}`), Promise.resolve()) : db.drop()),
    });
    cleanups.push({ name: 'rabbitmq topology', run: () => deleteRunTopology(AMQP_URL, name) });
    cleanups.push({ name: 'redis keys', run: () => deleteRunKeys(REDIS_URL, `${name}:`) });
    pgVersion = await serverVersion(db.pool);

    const [apiPort, workerPort, grpcPort] = [await freePort(), await freePort(), await freePort()];
    const overrides = { ...rateLimitOverrides(), ...passthroughEnv() };
    const jwtSecret = newJwtSecret();
    const envFor = (port: number) => serviceEnv({ databaseUrl: db.url, amqpPrefix: name, port, jwtSecret }, overrides);
    Object.assign(envForReport, envFor(apiPort), { JWT_SECRET: '(generated, 64 chars)' });
    const rateLimitNote = Object.keys(rateLimitOverrides()).length
      ? `rate limits raised to their maximum: ${Object.entries(rateLimitOverrides())
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`
      : 'no RATE_LIMIT_* variables in app/src/config.ts yet (nothing to raise)';
    progress.info(
      `production mode, BCRYPT_COST=${BENCH_BCRYPT_COST}, DB_POOL_MAX=${overrides.DB_POOL_MAX ?? '20 (default)'}; ${rateLimitNote}`,
    );

    const logFile = (role: string) => path.join(RESULTS_DIR, `${runId}-${role}.log`);
    const runs = (scenario: ScenarioName) => !options.skip.has(scenario);
    logs = ['migrate', 'api', 'worker', ...(runs('checkout') ? ['payments'] : [])].map(logFile);
    if (options.skip.size)
      progress.info(`skipping ${[...options.skip].join(', ')} (--skip)${runs('checkout') ? '' : ': no payments process'}`);
    await startService({ snapshot, role: 'migrate', env: envFor(0), logFile: logFile('migrate') });

    const userCount = Math.max(64, options.connections);
    progress.step(
      `seeding ${userCount} users (one bcrypt hash at cost ${BENCH_BCRYPT_COST}), ${options.sizes.browseEvents.toLocaleString('en-US')} events`,
    );
    const seeded = await seedUsers(db.pool, userCount, BENCH_BCRYPT_COST);
    await seedBrowseEvents(db.pool, seeded.organizer.id, options.sizes.browseEvents);

    progress.step('starting worker and api (separate processes, NODE_ENV=production)');
    const profileDir = path.join(RESULTS_DIR, `${runId}-profile`);
    const services: ServiceProcess[] = await Promise.all([
      startService({ snapshot, role: 'worker', env: envFor(workerPort), logFile: logFile('worker'), port: workerPort }),
      startService({
        snapshot,
        role: 'api',
        env: { ...envFor(apiPort), GRPC_PORT: String(grpcPort) },
        logFile: logFile('api'),
        port: apiPort,
        nodeArgs: options.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
      }),
    ]);
    const [worker, api] = services as [ServiceProcess, ServiceProcess];
    cleanups.push({ name: 'worker', run: () => worker.stop() });
    cleanups.push({ name: 'api', run: () => api.stop() });
    progress.info(`api pid ${api.pid} on :${apiPort}, worker pid ${worker.pid} on :${workerPort}`);

    // The payments role and its provider: the local Stripe-compatible server (app/src/payments/local-stripe.ts, compiled) on a
    // worker thread of this process (bench/lib/provider.ts; its counts feed the invariants) at a fixed latency, signed webhooks back.
    let payments: ServiceProcess | undefined;
    let stripe: ProviderThread | undefined;
    if (runs('checkout')) {
      const webhookSecret = `whsec_bench_${randomBytes(16).toString('hex')}`;
      // On a worker thread of its own: on this thread the harness's own work delayed its answers (bench/lib/provider.ts).
      const provider = await ProviderThread.start(snapshot, {
        webhookSecret,
        minLatencyMs: PROVIDER_LATENCY_MS,
        maxLatencyMs: PROVIDER_LATENCY_MS,
        seed: 9,
        recordCalls: options.keepDb,
      });
      const stripeUrl = provider.url;
      stripe = provider;
      cleanups.push({ name: 'local Stripe-compatible server', run: () => provider.close() });
      const paymentsPort = await freePort();
      progress.step(
        `starting payments (its own process), the provider: local Stripe-compatible server on ${stripeUrl} at ${PROVIDER_LATENCY_MS} ms`,
      );
      const started = await startService({
        snapshot,
        role: 'payments',
        env: {
          ...envFor(paymentsPort),
          STRIPE_API_KEY: 'sk_test_goticketbench',
          STRIPE_API_BASE: stripeUrl,
          STRIPE_WEBHOOK_SECRET: webhookSecret,
        },
        logFile: logFile('payments'),
        port: paymentsPort,
      });
      payments = started;
      cleanups.push({ name: 'payments', run: () => started.stop() });
      await provider.configure({ webhookUrl: `${started.url}${WEBHOOK_PATH}` });
      progress.info(`payments pid ${started.pid} on :${paymentsPort}`);
    }

    const apiBase = `${api.url}/api/v1`;
    progress.step(`signing in ${userCount} users (POST /auth/login, bcrypt verify each)`);
    const users = await signIn(apiBase, seeded.users);
    await callApi(`${apiBase}/users/me`, { token: users[0]!.token, expect: [200] });

    const ctx: BenchContext = {
      options,
      db,
      api,
      worker,
      apiBase,
      users,
      organizerId: seeded.organizer.id,
      pgbench,
      grpcAddress: `127.0.0.1:${grpcPort}`,
    };
    const guard = (service: ServiceProcess) => {
      if (service.exited) throw new Error(`${service.role} died:\n${service.tail()}`);
    };
    const after = async (scenario: string, problems: string[]) => {
      guard(api);
      guard(worker);
      if (payments) guard(payments);
      invariants.push(await checkInvariants(db.pool, scenario, problems, await stripe?.snapshot()));
    };

    if (runs('ceiling')) {
      results.ceiling = await timed('pgbench', () => ceiling(ctx));
      await after('pgbench', results.ceiling.problems);
    }
    if (runs('stampede')) {
      results.stampede = await timed('stampede', () => stampede(ctx));
      await after('stampede', results.stampede.problems);
    }
    // open-loop paces itself by the stampede's rate; notify confirms the stampede's holds
    const stampeded = results.stampede;
    for (const needsStampede of ['open-loop', 'notify'] as const) {
      if (runs(needsStampede) && !stampeded) progress.warn(`${needsStampede} needs the stampede's figures: skipped with it`);
    }
    if (runs('open-loop') && stampeded) {
      results.openLoop = await timed('open loop', () => openLoop(ctx, stampeded.bookingsPerSecond));
      await after('open loop', results.openLoop.problems);
    }
    if (runs('reads')) {
      results.reads = await timed('cached reads', () => reads(ctx));
      await after('cached reads', results.reads.problems);
    }
    if (runs('browse')) {
      results.browse = await timed('browsing', () => browse(ctx));
      await after('browsing', results.browse.problems);
    }
    if (runs('notify') && stampeded) {
      results.notify = await timed('notifications', () => notify(ctx, stampeded.eventId));
      await after('notifications', results.notify.problems);
    }
    if (runs('edges')) {
      results.edges = await timed('edges', () => edges(ctx));
      await after('edges', results.edges.problems);
    }
    if (payments) {
      const role = payments;
      results.checkout = await timed('checkout', () => checkout(ctx, role, PROVIDER_LATENCY_MS));
      if (stripe) progress.info(`checkout: the provider had at most ${(await stripe.snapshot()).maxInFlight} requests in flight at once`);
      if (stripe && options.keepDb) {
        // With the kept database: every provider request's times, to line up with the rows' (same clock).
        const file = path.join(RESULTS_DIR, `${runId}-provider-calls.json`);
        writeFileSync(file, JSON.stringify(await stripe.calls()));
        progress.info(`provider calls: ${file}`);
      }
      await after('checkout', results.checkout.problems);
      // right after the closed loop: checkouts on a fixed schedule at half its rate (the p99 target is evaluated here)
      const closedLoopRate = results.checkout.checkoutsPerSecond;
      results.checkoutOpenLoop = await timed('checkout open loop', () => checkoutOpenLoop(ctx, role, closedLoopRate));
      await after('checkout open loop', results.checkoutOpenLoop.problems);
    }

    if (options.profile) {
      await api.stop();
      const file = existsSync(profileDir) ? readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile')) : undefined;
      if (file) {
        const cpuprofile = readProfile(path.join(profileDir, file));
        profile = summarizeProfile(cpuprofile);
        for (const [scenario, window] of Object.entries(windows)) scenarioProfiles[scenario] = summarizeProfile(cpuprofile, 15, window);
        progress.info(`api CPU profile: ${path.relative(ROOT, path.join(profileDir, file))}`);
      } else progress.warn('the api wrote no .cpuprofile');
    }
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error);
    if (error instanceof InvariantError) progress.error(`INVARIANT BROKEN — ${error.message}`);
    else progress.error(`benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  } finally {
    progress.step('cleaning up (stopping processes, dropping the database, deleting the run topology)');
    await cleanup();
  }

  const logComplaints: Record<string, LogComplaint[]> = {};
  for (const log of logs) {
    const found = complaints(log);
    if (found.length) logComplaints[path.basename(log, '.log').replace(`${runId}-`, '')] = found;
  }
  const report = renderReport(results);
  const targets = evaluateTargets(results);
  console.log(
    `\nGoTicket bench ${runId}${options.quick ? ' (--quick)' : ''} — ${machineAtStart.cpus} × ${machineAtStart.cpuModel}, ${machineAtStart.memoryGb} GiB, Node ${process.version}, PostgreSQL ${pgVersion}\n`,
  );
  console.log(report);
  if (profile) {
    console.log(`\napi CPU profile (whole run)\n\n${renderProfile(profile)}`);
    for (const [scenario, summary] of Object.entries(scenarioProfiles))
      console.log(`\napi CPU profile during ${scenario}\n\n${renderProfile(summary, false)}`);
  }
  for (const [role, found] of Object.entries(logComplaints)) {
    console.log(
      `\n${role} log warnings/errors: ${found
        .slice(0, 6)
        .map((c) => `${c.count}× ${c.level} "${c.msg}"`)
        .join('; ')}`,
    );
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${runId}.json`);
  const machineAtEnd = machine();
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        runId,
        status: failure ? 'failed' : 'ok',
        failure,
        quick: options.quick,
        startedAt,
        finishedAt: new Date().toISOString(),
        machine: {
          ...machineAtStart,
          postgres: pgVersion,
          loadAverageStart: machineAtStart.loadAverage,
          loadAverageEnd: machineAtEnd.loadAverage,
        },
        options: { connections: options.connections, sizes: options.sizes, profile: options.profile, skip: [...options.skip] },
        serviceEnv: envForReport,
        results,
        invariants,
        targets,
        profile,
        scenarioProfiles,
        logComplaints,
        table: report,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`\nresults: ${path.relative(ROOT, file)}`);
  if (failure) {
    console.error(`\nFAILED: ${failure.split('\n')[0]}\nservice logs kept: ${logs.map((l) => path.relative(ROOT, l)).join(', ')}`);
    return 1;
  }
  for (const log of logs) rmSync(log, { force: true });
  const missed = targets.filter((t) => t.met === false).length;
  console.log(
    missed ? `${missed} of ${targets.length} targets missed (see bench/README.md, Findings)` : `all ${targets.length} targets met`,
  );
  return 0;
}

async function main(): Promise<void> {
  let options: BenchOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      if (error.message) console.error(error.message);
      console.error(USAGE);
      process.exit(error.message ? 2 : 0);
    }
    throw error;
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      progress.error(`${signal}: cleaning up`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  const code = await run(options);
  // nothing may keep a benchmark alive after its report (a stray socket or timer would hang `make bench`)
  process.stdout.write('', () => process.exit(code));
}

void main();
