/**
 * The examples the OpenAPI document shows (Swagger UI fills "try it out" with them, generators put
 * them in docs) are values the service itself accepts or could answer: each parsed by the very
 * zod schema it illustrates, refinements included (an event that ends after it starts, in the
 * future). Spectral's example rules check them against the JSON schema in `make contracts` too.
 */
import type { z } from 'zod';
import { publishedOpenApiDocument, routeTable } from '../../../scripts/lib/openapi-document';

const exampleOf = (schema: z.ZodType | undefined): unknown => schema?.meta()?.example;

test("every request body example passes its route's validation", () => {
  const withBodies = routeTable().filter((spec) => spec.body);
  expect(withBodies.length).toBeGreaterThanOrEqual(8);
  for (const spec of withBodies) {
    const example = exampleOf(spec.body);
    expect([spec.method, spec.path, example === undefined ? 'no example' : 'example']).toEqual([spec.method, spec.path, 'example']);
    const parsed = spec.body!.safeParse(example);
    expect([spec.method, spec.path, parsed.error?.issues ?? []]).toEqual([spec.method, spec.path, []]);
  }
});

test('every response example parses with the schema it illustrates', () => {
  let checked = 0;
  const visit = (schema: z.ZodType, where: string) => {
    const example = exampleOf(schema);
    if (example !== undefined) {
      const parsed = schema.safeParse(example);
      expect([where, parsed.error?.issues ?? []]).toEqual([where, []]);
      checked++;
    }
    const shape = (schema as unknown as { shape?: Record<string, z.ZodType> }).shape;
    const element = (schema as unknown as { element?: z.ZodType }).element;
    for (const [key, child] of Object.entries(shape ?? {})) visit(child, `${where}.${key}`);
    if (element) visit(element, `${where}[]`);
  };
  for (const spec of routeTable())
    for (const [status, response] of Object.entries(spec.responses))
      if (response.schema) visit(response.schema, `${spec.method} ${spec.path} ${status}`);
  expect(checked).toBeGreaterThanOrEqual(10);
});

test('the document carries those examples (the generator did not drop them)', () => {
  const text = JSON.stringify(publishedOpenApiDocument());
  const count = (text.match(/"example":/g) ?? []).length;
  expect(count).toBeGreaterThanOrEqual(15);
  expect(text).toContain('"startsAt":"2099-06-01T19:00:00.000Z"');
});
