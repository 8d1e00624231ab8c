/**
 * The contract module itself: dependency-free, the only home of the values it names (no copy left
 * in infra/, charts/, policies/, scripts/ or the workflows), and the shared validators.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as contract from '../contract';
import { cidrRange, dnsName, ipv4Cidr, problemOf } from '../validators';

const ROOT = join(__dirname, '..', '..');

function files(dir: string, keep: (file: string) => boolean): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return name === 'test' || name === 'node_modules' ? [] : files(path, keep);
    return keep(path) ? [path] : [];
  });
}

describe('platform/contract.ts', () => {
  it('imports nothing and runs nothing: plain constants anything may depend on', () => {
    const source = readFileSync(join(ROOT, 'platform', 'contract.ts'), 'utf8');
    expect(source).not.toMatch(/^\s*import\s/m);
    expect(source).not.toMatch(/\brequire\(|process\.|__dirname/);
  });

  // Values distinctive enough that a quoted copy can only be a copy (short words like "goticket" are
  // label values and names everywhere, and the dependencies' password keys double as their images'
  // own variable names; the typed imports keep those honest).
  const distinctive = [
    contract.RUNTIME_SECRET,
    contract.CONFIG_MAP,
    ...Object.values(contract.CLUSTER_ISSUERS),
    ...contract.RUNTIME_KEYS,
    ...Object.values(contract.MANIFESTS_DIR),
    contract.PROD_NETWORK.vpcCidr,
    ...Object.values(contract.PROD_NETWORK.subnets).flat(),
    contract.EDGE.service,
  ];

  it.each([['infra'], ['charts'], ['policies'], ['scripts']])('%s/ quotes none of its values: it imports them', (dir) => {
    const copies = files(dir, (file) => file.endsWith('.ts')).flatMap((file) => {
      const source = readFileSync(join(ROOT, file), 'utf8');
      return distinctive.filter((value) => new RegExp(`['"]${value.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}['"]`).test(source)).map((value) => `${file}: '${value}'`);
    });
    expect(copies).toEqual([]);
  });

  it('the workflows and the Makefile quote none of them either (the scripts they call import them)', () => {
    const sources = [...files('.github/workflows', (file) => file.endsWith('.yml')), 'Makefile'];
    const copies = sources.flatMap((file) => {
      const source = readFileSync(join(ROOT, file), 'utf8');
      return [contract.RUNTIME_SECRET, ...contract.RUNTIME_KEYS].filter((value) => new RegExp(`\\b${value}\\b`).test(source)).map((value) => `${relative(ROOT, join(ROOT, file))}: ${value}`);
    });
    expect(copies).toEqual([]);
  });

  it('names every environment once, and each has a ClusterIssuer and a manifests folder', () => {
    expect(contract.ENV_NAMES).toEqual(['dev', 'prod']);
    for (const env of contract.ENV_NAMES) {
      expect(Object.values(contract.CLUSTER_ISSUERS)).toContain(contract.CLUSTER_ISSUER_OF[env]);
      expect(contract.MANIFESTS_DIR[env]).toBe(`dist/${env}`);
    }
  });

  it('keeps the runtime keys, the dependencies’ passwords and the ConfigMap apart', () => {
    const keys = [...contract.RUNTIME_KEYS, ...contract.DEPENDENCY_KEYS];
    expect(new Set(keys).size).toBe(keys.length);
    for (const key of keys) expect(key).toMatch(/^[A-Z][A-Z0-9_]*$/);
  });

  it('lays the prod subnets inside the VPC, one block per zone and layer, never overlapping', () => {
    const [vpcFirst, vpcLast] = cidrRange(contract.PROD_NETWORK.vpcCidr);
    const blocks = Object.values(contract.PROD_NETWORK.subnets).flat();
    for (const block of blocks) expect([block, problemOf(ipv4Cidr(), block)]).toEqual([block, undefined]);
    const ranges = blocks.map((block) => cidrRange(block)).sort((a, b) => a[0] - b[0]);
    for (const [first, last] of ranges) expect(first >= vpcFirst && last <= vpcLast).toBe(true);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThan(ranges[i - 1]![1]);
    for (const layer of Object.values(contract.PROD_NETWORK.subnets)) expect(layer).toHaveLength(3);
  });
});

describe('shared validators', () => {
  it.each([
    ['tickets.goticket.localtest.me', undefined],
    ['a-b.c-d.io', undefined],
    ['Tickets.example.org', /lower-case/],
    ['localhost', /fully qualified/],
    ['10.0.0.1', /fully qualified/],
    ['tickets.example.com.', /fully qualified/],
    ['-bad.example.org', /DNS name/],
    ['under_score.example.org', /DNS name/],
    ['https://argocd.example.org', /DNS name/],
    [`${'a'.repeat(64)}.example.org`, /DNS name/],
  ])('dnsName(%j)', (value, expected) => {
    const problem = problemOf(dnsName(), value);
    if (expected === undefined) expect(problem).toBeUndefined();
    else expect(problem).toMatch(expected);
  });

  it.each([
    ['10.0.128.0/24', undefined],
    ['192.168.0.0/16', undefined],
    ['10.0.0/8', /IPv4 CIDR/],
    ['10.0.0.0/33', /IPv4 CIDR/],
    ['300.0.0.0/8', /IPv4 CIDR/],
    ['10.0.0.1/16', /network address/],
    ['0.0.0.0/0', /whole internet/],
  ])('ipv4Cidr(%j)', (value, expected) => {
    const result = ipv4Cidr().safeParse(value);
    if (expected === undefined) expect(result.success).toBe(true);
    else {
      // one problem per value, never a cascade
      expect(result.error?.issues).toHaveLength(1);
      expect(result.error?.issues[0]?.message).toMatch(expected);
    }
  });

  it('cidrRange gives the first and last address', () => {
    expect(cidrRange('10.0.128.0/24')).toEqual([167804928, 167805183]);
    expect(cidrRange('0.0.0.0/0')).toEqual([0, 2 ** 32 - 1]);
  });
});
