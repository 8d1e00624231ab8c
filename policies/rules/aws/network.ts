/**
 * Security groups: nothing reachable from the whole internet except HTTP/HTTPS, and the data
 * store and SSH ports never. Covers inline `ingress` blocks, `aws.vpc.SecurityGroupIngressRule`
 * and `aws.ec2.SecurityGroupRule` (type ingress).
 */
import type { AwsRule, Props } from '../../lib/types';
import { num, records, str, strings } from '../../lib/values';
import { ofType } from './helpers';

const SECURITY_GROUP = 'aws:ec2/securityGroup:SecurityGroup';
const INGRESS_RULE = 'aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule';
const SG_RULE = 'aws:ec2/securityGroupRule:SecurityGroupRule';

const WORLD = new Set(['0.0.0.0/0', '::/0']);
export const WEB_PORTS = [80, 443];
export const SENSITIVE_PORTS: Record<number, string> = { 22: 'SSH', 5432: 'PostgreSQL', 6379: 'Redis', 5671: 'AMQPS', 5672: 'AMQP' };

interface PublicIngress {
  /** Human description: "tcp 0-65535 from 0.0.0.0/0". */
  label: string;
  from: number;
  to: number;
  allProtocols: boolean;
  protocol: string;
}

/** Normalizes one ingress entry; returns it only when it admits 0.0.0.0/0 or ::/0. */
function publicIngress(protocolRaw: unknown, fromRaw: unknown, toRaw: unknown, cidrs: string[]): PublicIngress | undefined {
  const open = cidrs.filter((c) => WORLD.has(c));
  if (open.length === 0) return undefined;
  const protocol = (str(protocolRaw) ?? '-1').toLowerCase();
  const allProtocols = protocol === '-1' || protocol === 'all';
  const from = allProtocols ? 0 : (num(fromRaw) ?? 0);
  const to = allProtocols ? 65535 : (num(toRaw) ?? 65535);
  const ports = allProtocols ? 'all traffic' : from === to ? `${protocol} port ${from}` : `${protocol} ports ${from}-${to}`;
  return { label: `${ports} from ${open.join(', ')}`, from, to, allProtocols, protocol };
}

function publicIngresses(type: string, p: Props): PublicIngress[] {
  const entries: (PublicIngress | undefined)[] = [];
  if (type === SECURITY_GROUP) {
    for (const r of records(p.ingress))
      entries.push(publicIngress(r.protocol, r.fromPort, r.toPort, [...strings(r.cidrBlocks), ...strings(r.ipv6CidrBlocks)]));
  } else if (type === INGRESS_RULE) {
    entries.push(
      publicIngress(
        p.ipProtocol,
        p.fromPort,
        p.toPort,
        [str(p.cidrIpv4), str(p.cidrIpv6)].filter((c): c is string => c !== undefined),
      ),
    );
  } else if (type === SG_RULE && str(p.type) === 'ingress') {
    entries.push(publicIngress(p.protocol, p.fromPort, p.toPort, [...strings(p.cidrBlocks), ...strings(p.ipv6CidrBlocks)]));
  }
  return entries.filter((e): e is PublicIngress => e !== undefined);
}

function sensitivePortsIn(i: PublicIngress): number[] {
  // ICMP "ports" are types and codes, not ports.
  if (!i.allProtocols && i.protocol === 'icmp') return [];
  return Object.keys(SENSITIVE_PORTS)
    .map(Number)
    .filter((port) => port >= i.from && port <= i.to);
}

const appliesTo = ofType(SECURITY_GROUP, INGRESS_RULE, SG_RULE);

export const sgNoPublicSensitivePorts: AwsRule = {
  kind: 'aws',
  name: 'security-group-no-public-sensitive-ports',
  level: 'mandatory',
  description: 'No security group admits 0.0.0.0/0 or ::/0 to SSH (22), PostgreSQL (5432), Redis (6379) or AMQP (5671/5672).',
  remediation:
    'Admit the cluster node security group (referencedSecurityGroupId / sourceSecurityGroupId) instead of a CIDR; use SSM Session Manager instead of SSH.',
  rationale: 'These ports are scanned continuously; data stores and SSH must only be reachable from inside the VPC.',
  benchmark: 'AWS FSBP EC2.19 (high-risk ports), EC2.13 (SSH); CIS AWS 5.2/5.3',
  appliesTo,
  check: (p, ctx) =>
    publicIngresses(ctx.type, p).flatMap((i) => {
      const ports = sensitivePortsIn(i);
      return ports.length === 0 ? [] : [`ingress ${i.label} exposes ${ports.map((x) => `${x} (${SENSITIVE_PORTS[x]})`).join(', ')}`];
    }),
};

export const sgPublicIngressWebOnly: AwsRule = {
  kind: 'aws',
  name: 'security-group-public-ingress-web-only',
  level: 'mandatory',
  description: 'Security group ingress from 0.0.0.0/0 or ::/0 is limited to TCP 80 and 443.',
  remediation: 'Narrow the rule to tcp 80 or 443 (the load balancer), or to a specific CIDR / source security group.',
  rationale: 'Anything else open to the internet is an unreviewed entry point.',
  benchmark: 'AWS FSBP EC2.18 (authorized ports 80, 443)',
  appliesTo,
  check: (p, ctx) =>
    publicIngresses(ctx.type, p)
      // Sensitive ports are the other rule's finding; report each ingress under one rule only.
      .filter((i) => sensitivePortsIn(i).length === 0)
      .filter((i) => !(i.protocol === 'tcp' && i.from === i.to && WEB_PORTS.includes(i.from)))
      .map((i) => `ingress ${i.label} (only tcp 80 and 443 may be public)`),
};

export const networkRules: AwsRule[] = [sgNoPublicSensitivePorts, sgPublicIngressWebOnly];
