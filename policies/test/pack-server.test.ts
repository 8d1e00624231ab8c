/**
 * The pack as `pulumi preview --policy-pack policies` runs it: @pulumi/pulumi's policy-pack runner
 * loads policies/ (PulumiPolicy.yaml's nodejs runtime, TypeScript through its ts-node with type
 * checking), index.ts constructs the PolicyPack and serves it over gRPC, and this test talks to it
 * the way the engine does. The other tests call the rule functions; this one proves the real
 * entry point loads, lists every policy with its level, and reports violations.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { AnalyzerClient } from '@pulumi/pulumi/proto/analyzer_grpc_pb';
import {
  type AnalyzeDiagnostic,
  AnalyzeRequest,
  type AnalyzerInfo,
  AnalyzerProviderResource,
  AnalyzerResourceOptions,
  EnforcementLevel,
} from '@pulumi/pulumi/proto/analyzer_pb';
import { Empty } from 'google-protobuf/google/protobuf/empty_pb';
import { Struct } from 'google-protobuf/google/protobuf/struct_pb';
import { buildPolicies, PACK_NAME } from '../pack';
import { compliantAwsResources, deployment } from './fixtures/compliant';

const REPO = path.resolve(__dirname, '..', '..');
const RUNNER = path.join(REPO, 'node_modules', '@pulumi', 'pulumi', 'cmd', 'run-policy-pack');

let pack: ChildProcess;
let client: AnalyzerClient;
let stderr = '';

beforeAll(async () => {
  // The engine passes its own address first; the pack only needs it for logging, unused here.
  pack = spawn(process.execPath, [RUNNER, '127.0.0.1:1', '.'], { cwd: path.join(REPO, 'policies'), stdio: ['ignore', 'pipe', 'pipe'] });
  pack.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // Like the engine: the first line on stdout is the port the pack serves on.
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    pack.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = /^(\d+)\n/.exec(out);
      if (line) resolve(Number(line[1]));
    });
    pack.on('exit', (code) => reject(new Error(`policy pack exited with ${code} before serving:\n${out}${stderr}`)));
  });
  client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}, 120_000);

afterAll(() => {
  client?.close();
  if (pack?.pid !== undefined && pack.exitCode === null) pack.kill();
});

type JsObject = Parameters<typeof Struct.fromJavaScript>[0];

/** An Analyze call as the engine makes it (resource options always set; the provider when there is one). */
function analyze(
  type: string,
  name: string,
  props: Record<string, unknown>,
  providerProps?: Record<string, unknown>,
): Promise<AnalyzeDiagnostic[]> {
  const request = new AnalyzeRequest()
    .setType(type)
    .setName(name)
    .setUrn(`urn:pulumi:prod::goticket::${type}::${name}`)
    .setProperties(Struct.fromJavaScript(props as JsObject))
    .setOptions(new AnalyzerResourceOptions());
  if (providerProps) {
    const urn = 'urn:pulumi:prod::goticket::pulumi:providers:aws::aws';
    request.setProvider(
      new AnalyzerProviderResource()
        .setType('pulumi:providers:aws')
        .setName('aws')
        .setUrn(urn)
        .setProperties(Struct.fromJavaScript(providerProps as JsObject)),
    );
  }
  return new Promise((resolve, reject) =>
    client.analyze(request, (error, response) => (error ? reject(error) : resolve(response.getDiagnosticsList()))),
  );
}

const LEVELS: Record<string, EnforcementLevel> = { mandatory: EnforcementLevel.MANDATORY, advisory: EnforcementLevel.ADVISORY };

test('serves every policy of the pack under its stable name and level', async () => {
  const info = await new Promise<AnalyzerInfo>((resolve, reject) =>
    client.getAnalyzerInfo(new Empty(), (error, response) => (error ? reject(error) : resolve(response))),
  );
  expect(info.getName()).toBe(PACK_NAME);
  const served = info.getPoliciesList().map((p) => [p.getName(), p.getEnforcementlevel()]);
  expect(served).toEqual(buildPolicies().map((p) => [p.name, LEVELS[p.enforcementLevel!]]));
  expect(stderr).toBe('');
});

test('reports a violating AWS resource with the rule and its message, and passes the compliant one', async () => {
  const db = compliantAwsResources().find((r) => r.type === 'aws:rds/instance:Instance')!.props;
  expect(await analyze('aws:rds/instance:Instance', 'db', db)).toEqual([]);
  const found = await analyze('aws:rds/instance:Instance', 'db', { ...db, storageEncrypted: false, publiclyAccessible: true });
  expect(found.map((d) => [d.getPolicyname(), d.getEnforcementlevel(), d.getMessage().split('\n').pop()])).toEqual([
    ['rds-storage-encrypted', EnforcementLevel.MANDATORY, 'storage is not encrypted (storageEncrypted must be true)'],
    ['rds-not-publicly-accessible', EnforcementLevel.MANDATORY, 'database is publicly accessible (publiclyAccessible must be false)'],
  ]);
});

test('takes the required tags from the provider defaultTags, as the engine passes them (a JSON string)', async () => {
  const { tags, ...untagged } = compliantAwsResources().find((r) => r.type === 'aws:rds/instance:Instance')!.props;
  const missing = await analyze('aws:rds/instance:Instance', 'db', untagged);
  expect(missing.map((d) => [d.getPolicyname(), d.getEnforcementlevel()])).toEqual([['aws-required-tags', EnforcementLevel.ADVISORY]]);
  expect(
    await analyze('aws:rds/instance:Instance', 'db', untagged, { region: 'eu-west-1', defaultTags: JSON.stringify({ tags }) }),
  ).toEqual([]);
});

test('checks a Pulumi-managed Kubernetes object with the same rules as dist/', async () => {
  const d = deployment('api', { replicas: 2 });
  const spec = structuredClone(d.spec) as { template: { spec: { hostNetwork?: boolean } } };
  spec.template.spec.hostNetwork = true;
  const found = await analyze('kubernetes:apps/v1:Deployment', 'api', {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: d.metadata,
    spec,
  });
  expect(found.map((d) => [d.getPolicyname(), d.getMessage().split('\n').pop()])).toEqual([
    ['k8s-no-host-namespaces', 'pod sets hostNetwork: true'],
  ]);
});
