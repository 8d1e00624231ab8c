/**
 * The contract module itself: dependency-free, the only home of the values it names (no copy left
 * in infra/, charts/, policies/, scripts/ or the workflows), and the shared validators.
 */
import { createHash, X509Certificate } from 'node:crypto';
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
    contract.PAYMENTS.secret,
    contract.PAYMENTS.webhookPath,
    contract.PAYMENTS.database.role,
    contract.PAYMENT_PROVIDER_EGRESS.policy,
  ];

  it.each([['infra'], ['charts'], ['policies'], ['scripts']])('%s/ quotes none of its values: it imports them', (dir) => {
    const copies = files(dir, (file) => file.endsWith('.ts')).flatMap((file) => {
      const source = readFileSync(join(ROOT, file), 'utf8');
      return distinctive
        .filter((value) => new RegExp(`['"]${value.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}['"]`).test(source))
        .map((value) => `${file}: '${value}'`);
    });
    expect(copies).toEqual([]);
  });

  it('the workflows and the Makefile quote none of them either (the scripts they call import them)', () => {
    const sources = [...files('.github/workflows', (file) => file.endsWith('.yml')), 'Makefile'];
    const copies = sources.flatMap((file) => {
      const source = readFileSync(join(ROOT, file), 'utf8');
      return [contract.RUNTIME_SECRET, ...contract.RUNTIME_KEYS]
        .filter((value) => new RegExp(`\\b${value}\\b`).test(source))
        .map((value) => `${relative(ROOT, join(ROOT, file))}: ${value}`);
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

  it('gives the payments pods only keys the runtime Secret and the payments Secret hold, each once', () => {
    for (const key of contract.PAYMENTS.runtimeKeys) expect(contract.RUNTIME_KEYS).toContain(key);
    const keys = [...contract.PAYMENTS.runtimeKeys, ...contract.PAYMENTS.secretKeys];
    expect(new Set(keys).size).toBe(keys.length);
    expect(contract.HTTP_COMPONENTS).toContain(contract.PAYMENTS.component);
    expect(contract.SERVICES.payments.name).toBe(`${contract.APP}-${contract.PAYMENTS.component}`);
    // the provider's egress is the identity providers' shape: the manifest policy accepts only that
    expect([
      contract.PAYMENT_PROVIDER_EGRESS.port,
      contract.PAYMENT_PROVIDER_EGRESS.exceptV4,
      contract.PAYMENT_PROVIDER_EGRESS.exceptV6,
    ]).toEqual([
      contract.IDENTITY_PROVIDER_EGRESS.port,
      contract.IDENTITY_PROVIDER_EGRESS.exceptV4,
      contract.IDENTITY_PROVIDER_EGRESS.exceptV6,
    ]);
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

describe('the RDS CA bundle (platform/contract.ts RDS_CA_BUNDLE)', () => {
  const pem = readFileSync(join(ROOT, contract.RDS_CA_BUNDLE.repoPath), 'utf8');
  const certs = pem
    .split(/(?=-----BEGIN CERTIFICATE-----)/)
    .filter((block) => block.includes('BEGIN CERTIFICATE'))
    .map((block) => new X509Certificate(block));

  it('is the pinned file (a refresh changes the checksum in the same commit)', () => {
    expect(createHash('sha256').update(pem).digest('hex')).toBe(contract.RDS_CA_BUNDLE.sha256);
  });

  it('holds only Amazon RDS CAs, none expiring within 90 days, the instances’ CA family among them', () => {
    expect(certs.length).toBeGreaterThan(20);
    const soon = Date.now() + 90 * 86_400_000;
    expect(certs.filter((c) => !/Amazon RDS/.test(c.subject) || Date.parse(c.validTo) < soon).map((c) => c.subject)).toEqual([]);
    expect(certs.every((c) => c.ca)).toBe(true);
    // rds-ca-rsa2048-g1: one root per region
    expect(certs.filter((c) => /Root CA RSA2048 G1/.test(c.subject)).length).toBeGreaterThan(10);
    expect(contract.RDS_CA_BUNDLE.rdsCaIdentifier).toBe('rds-ca-rsa2048-g1');
  });

  it('is copied into the image where DATABASE_URL points (Dockerfile and .dockerignore)', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const dir = contract.RDS_CA_BUNDLE.repoPath.split('/').slice(0, -1).join('/');
    expect(dockerfile).toMatch(new RegExp(`^COPY ${dir} \\./${dir}$`, 'm'));
    expect(readFileSync(join(ROOT, '.dockerignore'), 'utf8')).toMatch(new RegExp(`^!${dir}$`, 'm'));
    expect(contract.RDS_CA_BUNDLE.imagePath).toBe(`/app/${contract.RDS_CA_BUNDLE.repoPath}`);
    expect(dockerfile).toMatch(/^WORKDIR \/app$/m);
  });
});
