/** Command line of `make bench` / `npm run bench -- [flags]`. */

/** The scenarios a run can leave out with --skip, in the order a run goes through them. */
export const SCENARIOS = ['ceiling', 'stampede', 'open-loop', 'reads', 'browse', 'notify', 'edges', 'checkout'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  quick: boolean;
  /** Scenarios left out (--skip): e.g. edges,checkout against an older build without GraphQL/gRPC/payments. */
  skip: ReadonlySet<ScenarioName>;
  /** Run the api child under `node --cpu-prof` and summarize its profile at the end. */
  profile: boolean;
  /** Keep the benchmark database (for inspection) instead of dropping it. */
  keepDb: boolean;
  connections: number;
  sizes: Sizes;
}

export interface Sizes {
  /** Seats of the stampede event. */
  seats: number;
  /** Booking attempts after the event sold out. */
  afterSellOut: number;
  /** Seconds each pgbench transaction type runs. */
  pgbenchSeconds: number;
  /** Seconds of each of the four read rounds (bare, api, api, bare). */
  readSeconds: number;
  /** Seconds of the browsing load. */
  browseSeconds: number;
  /** Events seeded for browsing. */
  browseEvents: number;
  /** Bookings confirmed for the notification-latency scenario. */
  confirms: number;
  /** Seconds of each open-loop booking level (50 % and 80 % of the closed-loop rate). */
  openLoopSeconds: number;
  /** Checkouts (hold → pay → confirmed) in the checkout scenario. */
  checkouts: number;
}

const FULL: Sizes = {
  seats: 5_000,
  afterSellOut: 20_000,
  pgbenchSeconds: 10,
  readSeconds: 5,
  browseSeconds: 10,
  browseEvents: 10_000,
  confirms: 2_000,
  openLoopSeconds: 10,
  checkouts: 3_000,
};

const QUICK: Sizes = {
  seats: 1_000,
  afterSellOut: 4_000,
  pgbenchSeconds: 3,
  readSeconds: 1.5,
  browseSeconds: 3,
  browseEvents: 10_000,
  confirms: 300,
  openLoopSeconds: 3,
  checkouts: 500,
};

export const USAGE = `usage: make bench [BENCH_ARGS="--quick --profile --keep-db --skip edges,checkout"]
       npm run bench -- [--quick] [--profile] [--keep-db] [--connections N] [--skip S[,S]]

  --quick          each scenario briefly (smoke check, about a minute)
  --profile        run the api under node --cpu-prof and print its top self-time functions
  --keep-db        leave the goticket_bench_<ts> database in place for inspection
  --connections N  concurrent connections / pgbench clients (default 64)
  --skip S[,S]     leave scenarios out (repeatable): ${SCENARIOS.join(', ')}
                   (checkout skipped: no payments process is started, for builds without that role)`;

export class UsageError extends Error {}

function isScenario(name: string): name is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(name);
}

/** "edges,checkout" → the scenario names; an empty or unknown name is a UsageError naming the valid ones. */
function parseSkip(value: string | undefined): ScenarioName[] {
  const names = (value ?? '').split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !isScenario(name));
  if (value === undefined || value.startsWith('--') || unknown.length > 0) {
    const got = value === undefined || value.startsWith('--') ? 'nothing' : unknown.map((name) => `"${name}"`).join(', ');
    throw new UsageError(`--skip takes scenario names separated by commas (${SCENARIOS.join(', ')}); got ${got}`);
  }
  return names.filter(isScenario);
}

export function parseArgs(argv: string[]): BenchOptions {
  const skip = new Set<ScenarioName>();
  const options: BenchOptions = { quick: false, skip, profile: false, keepDb: false, connections: 64, sizes: FULL };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') options.quick = true;
    else if (arg === '--profile') options.profile = true;
    else if (arg === '--keep-db') options.keepDb = true;
    else if (arg === '--connections' || arg.startsWith('--connections=')) {
      const value = arg.includes('=') ? arg.split('=')[1] : argv[++i];
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1 || n > 1_000)
        throw new UsageError(`--connections must be a whole number from 1 to 1000 (got ${value})`);
      options.connections = n;
    } else if (arg === '--skip' || arg.startsWith('--skip=')) {
      const value = arg.includes('=') ? arg.slice('--skip='.length) : argv[++i];
      for (const name of parseSkip(value)) skip.add(name);
    } else if (arg === '--help' || arg === '-h') throw new UsageError('');
    else throw new UsageError(`unknown flag ${arg}`);
  }
  options.sizes = options.quick ? QUICK : FULL;
  return options;
}
