/**
 * Every error leaves the GraphQL edge with a stable `extensions.code`: a domain error takes the
 * code of its row in THE error table (app/src/error-table.ts) with its details (field paths,
 * seats left, retry-after); a request GraphQL itself refused (syntax, validation, a limit) keeps
 * its message; anything else is masked to `INTERNAL_SERVER_ERROR` with no text of its own (no
 * stack, SQL or driver message), and reported like a REST 500.
 */
import { GraphQLError } from 'graphql';
import { DomainError } from '../domain/errors';
import { detailsOf, ERROR_TABLE } from '../error-table';

export const INTERNAL = 'INTERNAL_SERVER_ERROR';

/** The GraphQL error a domain error becomes. */
export function domainGraphqlError(error: DomainError, from?: GraphQLError): GraphQLError {
  const row = ERROR_TABLE[error.code];
  const details = detailsOf(error);
  return new GraphQLError(error.message, {
    nodes: from?.nodes,
    source: from?.source,
    positions: from?.positions,
    path: from?.path,
    extensions: { code: row.graphql, kind: error.code, ...details },
  });
}

/** graphql-armor refuses at parse time with a "Syntax Error: … limit of N exceeded" message. */
const ARMOR_LIMIT = /^Syntax Error: (.+ limit of \d+ exceeded.*)$/;

/** Code and message of a GraphQLError made by graphql-js, Yoga or graphql-armor (no domain error inside). */
function requestError(error: GraphQLError): { code: string; message: string } {
  const limit = ARMOR_LIMIT.exec(error.message);
  if (limit) return { code: 'GRAPHQL_VALIDATION_FAILED', message: limit[1]! };
  const existing = error.extensions?.code;
  if (typeof existing === 'string') return { code: existing, message: error.message };
  if (error.message.startsWith('Syntax Error')) return { code: 'GRAPHQL_PARSE_FAILED', message: error.message };
  if (/^Variable "\$[^"]*" /.test(error.message)) return { code: 'BAD_USER_INPUT', message: error.message };
  return { code: 'GRAPHQL_VALIDATION_FAILED', message: error.message };
}

/**
 * Yoga's maskError: `report` receives what was masked (a bug or an unreachable backend mapped
 * elsewhere). Domain errors are never masked.
 */
export function maskError(report: (error: unknown) => void) {
  return (error: unknown, message: string): Error => {
    const graphqlError = error instanceof GraphQLError ? error : undefined;
    const original = graphqlError ? graphqlError.originalError : error;
    if (original instanceof DomainError) return domainGraphqlError(original, graphqlError);
    if (graphqlError && (original === undefined || original === null || original instanceof GraphQLError)) {
      if (original instanceof GraphQLError && original.originalError instanceof DomainError)
        return domainGraphqlError(original.originalError, graphqlError);
      const { code, message: text } = requestError(graphqlError);
      return new GraphQLError(text, {
        nodes: graphqlError.nodes,
        source: graphqlError.source,
        positions: graphqlError.positions,
        path: graphqlError.path,
        extensions: { ...graphqlError.extensions, code },
      });
    }
    report(original);
    return new GraphQLError(message, {
      nodes: graphqlError?.nodes,
      source: graphqlError?.source,
      positions: graphqlError?.positions,
      path: graphqlError?.path,
      extensions: { code: INTERNAL },
    });
  };
}
