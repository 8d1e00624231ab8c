import { parseArgs, SCENARIOS, UsageError } from '../lib/cli';

describe('make bench flags', () => {
  it('runs every scenario at full size by default', () => {
    const options = parseArgs([]);
    expect(options.quick).toBe(false);
    expect([...options.skip]).toEqual([]);
    expect(options.connections).toBe(64);
  });

  it('--skip takes names separated by commas, repeated or with =', () => {
    expect([...parseArgs(['--skip', 'edges,checkout']).skip].sort()).toEqual(['checkout', 'edges']);
    expect([...parseArgs(['--skip=edges', '--skip', 'reads']).skip].sort()).toEqual(['edges', 'reads']);
  });

  it.each(
    [['--skip', 'edgez'], ['--skip', ''], ['--skip'], ['--skip', 'edges,,checkout'], ['--connections', '0'], ['--fast']].map(
      (argv) => [argv.join(' '), argv] as const,
    ),
  )('refuses "%s" with one line saying what it accepts', (_label, argv) => {
    let thrown: unknown;
    try {
      parseArgs(argv);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    const message = (thrown as Error).message;
    expect(message.split('\n')).toHaveLength(1);
    if (argv[0] === '--skip') for (const name of SCENARIOS) expect(message).toContain(name);
  });

  it('--quick shrinks every size', () => {
    const full = parseArgs([]).sizes;
    const quick = parseArgs(['--quick']).sizes;
    for (const key of Object.keys(full) as (keyof typeof full)[]) expect(quick[key]).toBeLessThanOrEqual(full[key]);
    expect(quick.seats).toBeLessThan(full.seats);
  });
});
