/**
 * `make contracts`: the published API contracts through the field's own linters. Prints one line
 * per contract (errors and warnings counted); any error is listed and fails the run.
 */
import { lintOpenApi, summary } from './lib/contract-lint';
import { edgeSummary, lintGraphqlSchema, lintProtos } from './lib/edge-contract-lint';
import { publishedOpenApiDocument } from './lib/openapi-document';

async function main(): Promise<void> {
  const openapi = lintOpenApi(publishedOpenApiDocument());
  for (const error of openapi.errors) console.error(`  ${error.linter} ${error.rule} at ${error.where}: ${error.message}`);
  console.log(`contracts: ${summary('openapi', openapi)}`);
  const graphql = await lintGraphqlSchema();
  const proto = lintProtos();
  for (const error of [...graphql.errors, ...proto.errors])
    console.error(`  ${error.linter} ${error.rule} at ${error.where}: ${error.message}`);
  console.log(`contracts: ${edgeSummary('graphql', graphql)}`);
  console.log(`contracts: ${edgeSummary('proto', proto)}`);
  process.exitCode = openapi.errors.length + graphql.errors.length + proto.errors.length > 0 ? 1 : 0;
}

void main();
