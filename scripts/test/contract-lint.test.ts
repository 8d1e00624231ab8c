/**
 * `make contracts`: the published OpenAPI document passes Spectral (spectral:oas + OWASP API
 * Security) and Redocly (recommended) with zero errors, and the gate is real: each kind of defect
 * the stock rulesets found in the first document is an error again when put back.
 */
import { lintOpenApi, summary, type LintResult } from '../lib/contract-lint';
import { publishedOpenApiDocument } from '../lib/openapi-document';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
const fresh = (): Doc => JSON.parse(JSON.stringify(publishedOpenApiDocument())) as Doc;
const rules = (result: LintResult) => [...new Set(result.errors.map((e) => `${e.linter} ${e.rule}`))].sort();

test('the published document: zero errors from either linter', () => {
  const result = lintOpenApi(fresh());
  expect(result.errors).toEqual([]);
  expect(summary('openapi', result)).toMatch(/^openapi: 0 errors, \d+ warnings \(spectral \d+, redocly \d+\)$/);
});

test('each defect of the first document is an error again when put back', () => {
  const doc = fresh();
  const register = doc.paths['/api/v1/auth/register'].post;
  delete register.requestBody.content['application/json'].schema.properties.email.maxLength; // OWASP API4 string limit
  delete doc.paths['/api/v1/events'].get.parameters[0].schema.format; // integer with no format
  delete doc.paths['/api/v1/events'].get.responses['200'].headers['RateLimit-Limit']; // no rate-limit headers
  delete doc.paths['/api/v1/events'].get.security; // public operation without `security: []`
  doc.components.securitySchemes.bearer.description = 'JWT'; // no RFC 8725 declaration
  delete doc.servers[0]['x-internal'];
  doc.paths['/api/v1/auth/login'].post.requestBody.content['application/json'].schema.example = { email: 'a@b.c' }; // missing password
  expect(rules(lintOpenApi(doc))).toEqual([
    'redocly security-defined',
    'spectral oas3-valid-schema-example',
    'spectral owasp:api2:2023-jwt-best-practices',
    'spectral owasp:api4:2023-integer-format',
    'spectral owasp:api4:2023-rate-limit',
    'spectral owasp:api4:2023-string-limit',
    'spectral owasp:api9:2023-inventory-access',
  ]);
});
