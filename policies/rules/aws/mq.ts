/** Amazon MQ: private brokers that log. */
import type { AwsRule } from '../../lib/types';
import { bool, record, str } from '../../lib/values';
import { ofType, unless } from './helpers';

const BROKER = 'aws:mq/broker:Broker';

export const mqNotPublic: AwsRule = {
  kind: 'aws',
  name: 'mq-not-publicly-accessible',
  level: 'mandatory',
  description: 'Amazon MQ brokers are not publicly accessible.',
  remediation: 'Set publiclyAccessible: false and place the broker in private subnets with a security group admitting the cluster nodes.',
  rationale: 'A public broker endpoint exposes the management API and AMQP to the internet.',
  benchmark: 'AWS FSBP principle "no public access to data stores" (cf. RDS.2, DMS.1)',
  appliesTo: ofType(BROKER),
  check: (p) => unless(bool(p.publiclyAccessible) !== true, 'broker is publicly accessible (publiclyAccessible must be false)'),
};

export const mqLogging: AwsRule = {
  kind: 'aws',
  name: 'mq-logging-enabled',
  level: 'mandatory',
  description: 'Amazon MQ brokers send their logs to CloudWatch (general; audit too for ActiveMQ).',
  remediation: 'Set logs: { general: true } (and audit: true for ActiveMQ; RabbitMQ brokers support general logs only).',
  rationale: 'Without broker logs there is no trail of connections, failures or permission changes.',
  benchmark: 'AWS FSBP MQ.2',
  appliesTo: ofType(BROKER),
  check: (p) => {
    const logs = record(p.logs);
    const activeMq = (str(p.engineType) ?? '').toLowerCase() === 'activemq';
    return [
      ...unless(bool(logs.general) === true, 'general logs are off (logs.general must be true)'),
      ...(activeMq ? unless(bool(logs.audit) === true, 'audit logs are off for an ActiveMQ broker (logs.audit must be true)') : []),
    ];
  },
};

export const mqRules: AwsRule[] = [mqNotPublic, mqLogging];
