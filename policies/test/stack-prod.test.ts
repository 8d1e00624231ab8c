/** The pack over the mocked prod stack (AWS + EKS + add-ons): no violation at all. */
import { describeViolations, stackViolations } from './stacks';

test('the mocked prod stack passes every rule', async () => {
  const { violations, types, checkedByAwsRules } = await stackViolations('prod');
  expect(describeViolations(violations)).toEqual([]);
  // The rules had something to check: the data stores, the cluster and the namespaces are there.
  expect(types).toEqual(
    expect.arrayContaining([
      'aws:rds/instance:Instance',
      'aws:elasticache/replicationGroup:ReplicationGroup',
      'aws:mq/broker:Broker',
      'eks:index:Cluster',
      'kubernetes:core/v1:Namespace',
    ]),
  );
  expect(checkedByAwsRules).toBeGreaterThan(15);
});
