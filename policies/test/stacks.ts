/**
 * The pack's rules over what the infra tests' mocked stacks register (infra/test/harness.ts):
 * every resource with the inputs the program passed, providers included (for default tags).
 * One stack per jest file: the harness loads infra/index.ts once per module registry.
 */
import { runProgram, testStackConfig } from '../../infra/test/harness';
import { validateResources, type Violation } from '../engine';
import type { Env } from '../lib/types';
import { awsRules } from '../rules';

export async function stackViolations(stack: Env): Promise<{ violations: Violation[]; types: string[]; checkedByAwsRules: number }> {
  const run = await runProgram(stack, testStackConfig(stack));
  const resources = run.resources.map((r) => ({ type: r.type, name: r.name, props: r.inputs, provider: r.provider }));
  return {
    violations: validateResources(resources, stack),
    types: resources.map((r) => r.type),
    checkedByAwsRules: resources.filter((r) => awsRules.some((rule) => rule.appliesTo(r.type, r.props))).length,
  };
}

export const describeViolations = (vs: Violation[]): string[] => vs.map((v) => `${v.level} ${v.rule} ${v.subject}: ${v.message}`);
