/**
 * `make contracts`: the published API contracts through the field's own linters. Prints one line
 * per contract (errors and warnings counted); any error is listed and fails the run.
 */
import { lintOpenApi, summary } from './lib/contract-lint';
import { publishedOpenApiDocument } from './lib/openapi-document';

const openapi = lintOpenApi(publishedOpenApiDocument());
for (const error of openapi.errors) console.error(`  ${error.linter} ${error.rule} at ${error.where}: ${error.message}`);
console.log(`contracts: ${summary('openapi', openapi)}`);
process.exitCode = openapi.errors.length > 0 ? 1 : 0;
