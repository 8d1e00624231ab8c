import { call, type JsonResponse, type TestApi } from './api';

export interface GraphqlError {
  message: string;
  path?: string[];
  extensions?: {
    code?: string;
    kind?: string;
    fields?: Array<{ path: string; message: string }>;
    seatsLeft?: number;
    retryAfterSeconds?: number;
  };
}
export interface GraphqlBody<T = Record<string, unknown>> {
  data?: T | null;
  errors?: GraphqlError[];
}

/** The GraphQL endpoint of a test API (same port as REST). */
export function graphqlUrl(api: TestApi): string {
  return `${api.url.replace(/\/api\/v1$/, '')}/graphql`;
}

/** POST /graphql with a JSON body, as a real client sends it. */
export function gql<T = Record<string, unknown>>(
  api: TestApi,
  query: string,
  options: { variables?: Record<string, unknown>; token?: string; headers?: Record<string, string>; operationName?: string } = {},
): Promise<JsonResponse<GraphqlBody<T>>> {
  return call<GraphqlBody<T>>(graphqlUrl(api), {
    method: 'POST',
    token: options.token,
    headers: options.headers,
    body: { query, variables: options.variables, operationName: options.operationName },
  });
}
