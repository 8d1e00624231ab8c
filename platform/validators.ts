/**
 * Validators for the values infra/config.ts and charts/environments.ts both check (host names,
 * CIDRs), built once on zod's own formats (z.hostname, z.cidrv4) instead of one regex per side.
 */
import { z } from 'zod';

/** "10.0.128.0/24" → [first, last] address as numbers. */
export function cidrRange(cidr: string): [number, number] {
  const [address = '', bits = ''] = cidr.split('/');
  const base = address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(bits));
  return [base, base + size - 1];
}

const DNS_NAME = 'must be a lower-case, fully qualified DNS name such as tickets.<your domain>';

/** A lower-case DNS name of two labels or more ending in an alphabetic TLD: what a certificate and a route can name. */
export const dnsName = () =>
  z
    .hostname(DNS_NAME)
    .pipe(z.string().refine((host) => host === host.toLowerCase() && host.length <= 253 && /\.[a-z]{2,63}$/.test(host), DNS_NAME));

/** An IPv4 network in CIDR notation: the network address itself (host bits zero), never the whole internet. */
export const ipv4Cidr = () =>
  z
    .cidrv4('must be an IPv4 CIDR such as 10.0.128.0/24')
    // one problem at a time: the arithmetic below needs a well-formed CIDR
    .pipe(z.string())
    .refine((cidr) => cidrRange(cidr)[0] % 2 ** (32 - Number(cidr.split('/')[1])) === 0, {
      message: 'must be a network address (host bits zero) in CIDR notation',
      abort: true,
    })
    .refine((cidr) => !cidr.endsWith('/0'), { message: 'must not be the whole internet', abort: true });

/** The first problem zod reports for `value`, or undefined when it passes. */
export function problemOf(schema: z.ZodType, value: unknown): string | undefined {
  const result = schema.safeParse(value);
  return result.success ? undefined : result.error.issues[0]?.message;
}

// ---------------------------------------------------------------- placeholders

/** Names reserved for documentation and testing (RFC 2606, RFC 6761): nothing real lives there, Let's Encrypt refuses them. */
const RESERVED_DOMAINS = ['example.com', 'example.org', 'example.net'];
const RESERVED_TLDS = ['example', 'test', 'invalid', 'localhost'];
/** Names that resolve to this machine: fine for Kind, never for a public environment. */
const LOOPBACK_DOMAINS = ['localhost', 'localtest.me', 'nip.io', 'sslip.io'];

const under = (host: string, domain: string) => host === domain || host.endsWith(`.${domain}`);

/** Why `host` cannot be a production DNS name (what it is instead), or undefined when it can. */
function reservedName(host: string): string | undefined {
  const name = host.toLowerCase();
  const reserved = RESERVED_DOMAINS.find((domain) => under(name, domain)) ?? RESERVED_TLDS.find((tld) => under(name, tld));
  if (reserved) return `under ${reserved}, reserved for documentation (RFC 2606/6761)`;
  const loopback = LOOPBACK_DOMAINS.find((domain) => under(name, domain));
  if (loopback) return `under ${loopback}, which resolves to this machine`;
  return undefined;
}

/** One line saying why `host` cannot be a production DNS name, or undefined when it can. */
export function placeholderDomain(host: string): string | undefined {
  const reason = reservedName(host);
  return reason && `${host} is ${reason}: set a DNS name you own`;
}

/** The IPv4 ranges reserved for documentation (RFC 5737). */
export const DOCUMENTATION_CIDRS = ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24'] as const;

/** Why `cidr` cannot be a real network, or undefined when it can. */
export function placeholderCidr(cidr: string): string | undefined {
  const [first, last] = cidrRange(cidr);
  const doc = DOCUMENTATION_CIDRS.find((range) => {
    const [a, b] = cidrRange(range);
    return first <= b && last >= a;
  });
  return doc ? `${cidr} overlaps ${doc}, reserved for documentation (RFC 5737): set your runners' and operators' egress CIDRs` : undefined;
}

/** AWS's documentation account (and the all-zero one): an ARN in them names nobody's role. */
const PLACEHOLDER_ACCOUNTS = ['123456789012', '000000000000'];

/** Why `arn` cannot name a real IAM principal, or undefined when it can. */
export function placeholderArn(arn: string): string | undefined {
  const account = arn.split(':')[4];
  return account && PLACEHOLDER_ACCOUNTS.includes(account)
    ? `${arn} is in AWS's documentation account ${account}: set your account's role ARN`
    : undefined;
}

/** A production DNS name: valid, and neither reserved nor resolving to this machine. */
export const publicDnsName = () =>
  dnsName().pipe(
    z.string().superRefine((host, ctx) => {
      const problem = placeholderDomain(host);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  );

/** A production network: a valid CIDR outside the documentation ranges. */
export const routableCidr = () =>
  ipv4Cidr().pipe(
    z.string().superRefine((cidr, ctx) => {
      const problem = placeholderCidr(cidr);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  );

/** An e-mail address someone reads (Let's Encrypt refuses reserved domains). */
export const deliverableEmail = (message: string) =>
  z.email(message).pipe(
    z.string().superRefine((email, ctx) => {
      const reason = reservedName(email.slice(email.lastIndexOf('@') + 1));
      if (reason)
        ctx.addIssue({ code: 'custom', message: `${email} is ${reason}: Let's Encrypt refuses it; set an address someone reads` });
    }),
  );
