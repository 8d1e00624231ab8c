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
    .refine((cidr) => cidrRange(cidr)[0] % 2 ** (32 - Number(cidr.split('/')[1])) === 0, { message: 'must be a network address (host bits zero) in CIDR notation', abort: true })
    .refine((cidr) => !cidr.endsWith('/0'), { message: 'must not be the whole internet', abort: true });

/** The first problem zod reports for `value`, or undefined when it passes. */
export function problemOf(schema: z.ZodType, value: unknown): string | undefined {
  const result = schema.safeParse(value);
  return result.success ? undefined : result.error.issues[0]?.message;
}
