/**
 * In-cluster PostgreSQL, Redis and RabbitMQ for dev (prod uses RDS, ElastiCache, Amazon MQ).
 * Single-replica StatefulSets with PVCs, probes and the restricted posture: the official
 * Debian images run as their built-in uid 999 and write only to their volumes. Passwords
 * come from the Pulumi-created `goticket-runtime` Secret.
 */
import { Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import { type Construct } from 'constructs';
import { type BackendPorts, type Environment, type Resources } from './environments';
import { APP, IN_CLUSTER_BACKENDS, LABELS, RUNTIME_SECRET, VERSIONS } from '../platform/contract';
import {
  CHART_PROPS,
  type Labels,
  emptyDirVolume,
  hardenedPodSpec,
  meta,
  resources,
  selectorLabels,
  serviceAccount,
  syncWave,
} from './lib';

const DEPENDENCY_UID = 999;
/** Before the migrate hook (-2/-1) and the app (0): the database must exist when migrations run. */
export const DEPENDENCIES_WAVE = -3;

const SIZE: Resources = { cpuRequest: '100m', memoryRequest: '256Mi', cpuLimit: '1', memoryLimit: '512Mi' };

const secret = (key: string): k8s.EnvVarSource => ({ secretKeyRef: { name: RUNTIME_SECRET, key } });
const exec = (command: string[], periodSeconds: number, timeoutSeconds: number, failureThreshold: number): k8s.Probe => ({
  exec: { command },
  periodSeconds,
  timeoutSeconds,
  failureThreshold,
});

export interface Dependency {
  name: 'postgres' | 'redis' | 'rabbitmq';
  port: keyof BackendPorts;
  labels: Labels;
  image: string;
  dataPath: string;
  /** Extra writable paths besides the data volume and /tmp. */
  scratch: string[];
  container: Pick<k8s.Container, 'env' | 'args' | 'startupProbe' | 'livenessProbe' | 'readinessProbe'>;
}

const { postgres: PG, redis: REDIS, rabbitmq: RABBITMQ } = IN_CLUSTER_BACKENDS;
const PG_READY = ['pg_isready', '-h', '127.0.0.1', '-U', PG.user, '-d', PG.database];
const REDIS_PING = ['redis-cli', 'ping'];

export const IN_CLUSTER_DEPENDENCIES: readonly Dependency[] = [
  {
    name: PG.service,
    port: 'postgres',
    labels: selectorLabels('postgres', 'database'),
    image: VERSIONS.postgresImage,
    dataPath: '/var/lib/postgresql/data',
    scratch: ['/var/run/postgresql'],
    container: {
      env: [
        { name: 'POSTGRES_USER', value: PG.user },
        { name: 'POSTGRES_DB', value: PG.database },
        { name: 'POSTGRES_PASSWORD', valueFrom: secret(PG.passwordKey) },
        // A subdirectory: initdb refuses a mount point that already holds lost+found.
        { name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' },
      ],
      startupProbe: exec(PG_READY, 2, 3, 60),
      livenessProbe: exec(PG_READY, 10, 3, 3),
      readinessProbe: exec(PG_READY, 5, 3, 2),
    },
  },
  {
    name: REDIS.service,
    port: 'redis',
    labels: selectorLabels('redis', 'cache'),
    image: 'redis:7.4.1',
    dataPath: '/data',
    scratch: [],
    container: {
      args: ['--requirepass', '$(REDIS_PASSWORD)', '--appendonly', 'yes', '--dir', '/data'],
      env: [
        { name: 'REDIS_PASSWORD', valueFrom: secret(REDIS.passwordKey) },
        // redis-cli reads it, so the probe needs no password on its command line.
        { name: 'REDISCLI_AUTH', valueFrom: secret(REDIS.passwordKey) },
      ],
      startupProbe: exec(REDIS_PING, 2, 2, 30),
      livenessProbe: exec(REDIS_PING, 10, 2, 3),
      readinessProbe: exec(REDIS_PING, 5, 2, 2),
    },
  },
  {
    name: RABBITMQ.service,
    port: 'amqp',
    labels: selectorLabels('rabbitmq', 'broker'),
    image: VERSIONS.rabbitmqImage,
    dataPath: '/var/lib/rabbitmq',
    scratch: [],
    container: {
      env: [
        { name: 'RABBITMQ_DEFAULT_USER', value: RABBITMQ.user },
        { name: 'RABBITMQ_DEFAULT_PASS', valueFrom: secret(RABBITMQ.passwordKey) },
      ],
      // rabbitmq-diagnostics boots an Erlang VM per call: slow probes, generous timeouts.
      startupProbe: exec(['rabbitmq-diagnostics', '-q', 'ping'], 10, 10, 30),
      livenessProbe: exec(['rabbitmq-diagnostics', '-q', 'ping'], 30, 10, 3),
      readinessProbe: exec(['rabbitmq-diagnostics', '-q', 'check_port_connectivity'], 15, 10, 2),
    },
  },
];

export class DependenciesChart extends Chart {
  constructor(scope: Construct, id: string, props: { env: Environment }) {
    super(scope, id, CHART_PROPS);
    const { backends } = props.env;
    if (backends.kind !== 'in-cluster') throw new Error(`DependenciesChart: ${props.env.name} uses ${backends.kind} backends`);

    for (const dep of IN_CLUSTER_DEPENDENCIES) {
      const port = backends.ports[dep.port];
      const wave = syncWave(DEPENDENCIES_WAVE);
      serviceAccount(this, dep.name, dep.labels, wave);
      // Headless: the StatefulSet's governing Service, also the client address (`postgres:5432`).
      new k8s.KubeService(this, `${dep.name}-service`, {
        metadata: meta(dep.name, dep.labels, wave),
        spec: {
          clusterIp: 'None',
          selector: dep.labels,
          ports: [{ name: dep.port, port, targetPort: k8s.IntOrString.fromNumber(port), protocol: 'TCP' }],
        },
      });
      const scratch = dep.scratch.map((path, i) => ({ volume: emptyDirVolume(`scratch-${i}`), path }));
      new k8s.KubeStatefulSet(this, dep.name, {
        metadata: meta(dep.name, dep.labels, wave),
        spec: {
          serviceName: dep.name,
          replicas: 1,
          selector: { matchLabels: dep.labels },
          template: {
            metadata: { labels: { ...dep.labels, [LABELS.partOf]: APP } },
            spec: hardenedPodSpec({
              uid: DEPENDENCY_UID,
              serviceAccountName: dep.name,
              volumes: [emptyDirVolume('tmp'), ...scratch.map((s) => s.volume)],
              containers: [
                {
                  name: dep.name,
                  image: dep.image,
                  imagePullPolicy: 'IfNotPresent',
                  ports: [{ name: dep.port, containerPort: port, protocol: 'TCP' }],
                  resources: resources(SIZE),
                  volumeMounts: [
                    { name: 'data', mountPath: dep.dataPath },
                    { name: 'tmp', mountPath: '/tmp' },
                    ...scratch.map((s) => ({ name: s.volume.name, mountPath: s.path })),
                  ],
                  ...dep.container,
                },
              ],
            }),
          },
          volumeClaimTemplates: [
            {
              metadata: { name: 'data', labels: dep.labels },
              spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: k8s.Quantity.fromString(backends.storage) } } },
            },
          ],
        },
      });
    }
  }
}
