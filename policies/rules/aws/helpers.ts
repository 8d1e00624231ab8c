import type { Props } from '../../lib/types';

/** appliesTo for rules that cover a fixed set of resource types. */
export function ofType(...types: string[]): (type: string) => boolean {
  const set = new Set(types);
  return (type) => set.has(type);
}

/** Runs `check` only in prod; dev stacks trade these for cost. */
export function prodOnly<C extends { env: string }>(check: (props: Props, ctx: C) => string[]): (props: Props, ctx: C) => string[] {
  return (props, ctx) => (ctx.env === 'prod' ? check(props, ctx) : []);
}

/** One message when `ok` is false, none otherwise. */
export function unless(ok: boolean, message: string): string[] {
  return ok ? [] : [message];
}
