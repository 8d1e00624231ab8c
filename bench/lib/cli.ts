/** Command line of `make bench` / `npm run bench -- [flags]`. */

export interface BenchOptions {
  quick: boolean;
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
};

export const USAGE = `usage: make bench [BENCH_ARGS="--quick --profile --keep-db"]
       npm run bench -- [--quick] [--profile] [--keep-db] [--connections N]

  --quick          each scenario briefly (smoke check, about a minute)
  --profile        run the api under node --cpu-prof and print its top self-time functions
  --keep-db        leave the goticket_bench_<ts> database in place for inspection
  --connections N  concurrent connections / pgbench clients (default 64)`;

export class UsageError extends Error {}

export function parseArgs(argv: string[]): BenchOptions {
  const options: BenchOptions = { quick: false, profile: false, keepDb: false, connections: 64, sizes: FULL };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') options.quick = true;
    else if (arg === '--profile') options.profile = true;
    else if (arg === '--keep-db') options.keepDb = true;
    else if (arg === '--connections' || arg.startsWith('--connections=')) {
      const value = arg.includes('=') ? arg.split('=')[1] : argv[++i];
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1 || n > 1_000) throw new UsageError(`--connections must be a whole number from 1 to 1000 (got ${value})`);
      options.connections = n;
    } else if (arg === '--help' || arg === '-h') throw new UsageError('');
    else throw new UsageError(`unknown flag ${arg}`);
  }
  options.sizes = options.quick ? QUICK : FULL;
  return options;
}
