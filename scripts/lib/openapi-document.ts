/**
 * The published OpenAPI document, built from the route table exactly as `GET /openapi.json` builds
 * it, without a database or a running server (the routes' handlers are never called here).
 */
import { apiRoutes, API_BASE } from '../../app/src/http/app';
import { buildOpenApiDocument } from '../../app/src/http/openapi';
import type { RouteSpec } from '../../app/src/http/route';

/** The route table with services that are never called (building the table only captures them). */
export function routeTable(): RouteSpec[] {
  const unused = new Proxy({}, { get: () => unused }) as never;
  return apiRoutes({ auth: unused, users: unused, events: unused, bookings: unused, audit: unused, oauth: unused });
}

export function publishedOpenApiDocument(): ReturnType<typeof buildOpenApiDocument> {
  return buildOpenApiDocument(routeTable(), API_BASE);
}
