/**
 * Versions in support, the same everywhere (platform/contract.ts VERSIONS): the Node.js line of the
 * image, CI and `engines`; one PostgreSQL major in CI, docker-compose, Kind and RDS; one RabbitMQ
 * line in CI, docker-compose, Kind and Amazon MQ; the EKS minor and the broker's instance family.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { VERSIONS } from '../contract';
import { IN_CLUSTER_DEPENDENCIES } from '../../charts/dependencies';

const ROOT = join(__dirname, '..', '..');
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');
type Services = Record<string, { image: string }>;
const ci = parse(read('.github/workflows/ci.yml')) as { jobs: { test: { services: Services; strategy: { matrix: { node: number[] } } } } };
const compose = parse(read('docker-compose.yml')) as { services: Services };
const prod = parse(read('Pulumi.prod.yaml')) as { config: Record<string, Record<string, string>> };
const kind = (name: string): string => IN_CLUSTER_DEPENDENCIES.find((d) => d.name === name)!.image;

describe('Node.js', () => {
  it('builds the image on a supported LTS line, pinned by version and digest', () => {
    const froms = read('Dockerfile').match(/^FROM .*node:[^\s]+/gm) ?? [];
    expect(froms.length).toBeGreaterThan(0);
    for (const from of froms)
      expect(from).toMatch(new RegExp(`node:${VERSIONS.nodeImage}\\.\\d+\\.\\d+-bookworm-slim@sha256:[0-9a-f]{64}$`));
    expect(VERSIONS.nodeLts).toContain(VERSIONS.nodeImage);
  });

  it('tests every supported LTS line in CI, and the setup action defaults to the image’s', () => {
    expect(ci.jobs.test.strategy.matrix.node).toEqual([...VERSIONS.nodeLts]);
    const setup = parse(read('.github/actions/setup/action.yml')) as { inputs: { 'node-version': { default: string } } };
    expect(setup.inputs['node-version'].default).toBe(String(VERSIONS.nodeImage));
  });

  it('says so in engines (package.json and the lock file) and the README: no Node 20', () => {
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    expect(engines).toBe('^22.12.0 || >=24.0.0');
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { engines?: { node: string } }> };
    expect(lock.packages['']!.engines!.node).toBe(engines);
    const readme = read('README.md');
    expect(readme).toMatch(/Node\.js 22 or 24/);
    expect(readme).not.toMatch(/Node 20\+/);
  });
});

describe('backing services', () => {
  it('runs one PostgreSQL major in CI, docker-compose, Kind and RDS', () => {
    expect([ci.jobs.test.services.postgres!.image, compose.services.postgres!.image, kind('postgres')]).toEqual([
      VERSIONS.postgresImage,
      VERSIONS.postgresImage,
      VERSIONS.postgresImage,
    ]);
    expect(VERSIONS.postgresImage).toMatch(new RegExp(`^postgres:${VERSIONS.postgresMajor}\\.\\d+$`));
    expect(prod.config['goticket:database']!.engineVersion).toBe(VERSIONS.postgresMajor);
  });

  it('runs one maintained RabbitMQ line (4.x) in CI, docker-compose, Kind and Amazon MQ', () => {
    expect(VERSIONS.rabbitmqImage).toMatch(new RegExp(`^rabbitmq:${VERSIONS.rabbitmqMinor.replace('.', '\\.')}\\.\\d+$`));
    expect(VERSIONS.rabbitmqMinor).toMatch(/^4\./);
    expect(ci.jobs.test.services.rabbitmq!.image).toBe(VERSIONS.rabbitmqImage);
    expect(compose.services.rabbitmq!.image).toBe(`${VERSIONS.rabbitmqImage}-management`);
    expect(kind('rabbitmq')).toBe(VERSIONS.rabbitmqImage);
    expect(prod.config['goticket:broker']!.engineVersion).toBe(VERSIONS.rabbitmqMinor);
  });

  it('pairs the Amazon MQ engine with an instance family AWS offers for it, on a supported EKS minor', () => {
    const broker = prod.config['goticket:broker']!;
    const families: readonly string[] =
      VERSIONS.amazonMqInstanceFamilies[broker.engineVersion as keyof typeof VERSIONS.amazonMqInstanceFamilies];
    expect(families).toContain(broker.instanceType!.split('.')[1]);
    expect(VERSIONS.eksStandardSupport).toContain(prod.config['goticket:eks']!.version);
  });
});
