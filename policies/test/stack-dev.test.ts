/** The pack over the mocked dev stack (Kind + add-ons): no AWS resources, no violation. */
import { describeViolations, stackViolations } from './stacks';

test('the mocked dev stack passes every rule', async () => {
  const { violations, types, checkedByAwsRules } = await stackViolations('dev');
  expect(describeViolations(violations)).toEqual([]);
  expect(types).toContain('kubernetes:core/v1:Namespace');
  expect(checkedByAwsRules).toBe(0);
});
