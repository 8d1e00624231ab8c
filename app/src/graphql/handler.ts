/**
 * POST /graphql (and GET for queries) in the api role, on the REST port: GraphQL Yoga mounted on
 * the Express app, in front of the same services. Protection, in the order a request meets it:
 * CORS as REST; the request deadline as REST; the anonymous rate limit per client IP (REST's);
 * bodies only as JSON, read by the same parser with the same BODY_LIMIT as REST (413 beyond);
 * at most BATCH_LIMIT operations per request; CSRF prevention (a request a browser could send
 * cross-site without a preflight must carry a custom header; mutations never over GET: Yoga
 * refuses them with 405); graphql-armor's token, depth, alias, directive and cost limits;
 * introspection and field suggestions off in production. Errors: ./errors.ts.
 */
import express, { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import {
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  OperationTypeNode,
  type DocumentNode,
  type OperationDefinitionNode,
  type Source,
  type validate,
} from 'graphql';
import { createYoga, type Plugin, type YogaInitialContext } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { EnvelopArmor } from '@escape.tech/graphql-armor';
import { DomainError } from '../domain/errors';
import { actorOf, authentication, requireActor } from '../http/authentication';
import { bodyParserErrors, requireJsonBodies, requestTimeout } from '../http/middleware';
import type { Logger } from '../observability/logger';
import { FailureReporter } from '../observability/failures';
import { graphqlDuration, graphqlOperations } from '../observability/metrics';
import { graphqlContext, type GraphqlContext, type GraphqlLimits, type GraphqlServices } from './context';
import { domainGraphqlError, maskError } from './errors';
import { schema } from './schema';

export const GRAPHQL_PATH = '/graphql';
/** Operations one HTTP request may batch. */
export const BATCH_LIMIT = 10;
/** Header a GET (or any simple request) must carry: a cross-site form or image cannot set it. */
export const CSRF_HEADERS = ['x-graphql-csrf', 'graphql-preflight', 'apollo-require-preflight'];
/** graphql-armor limits: well above what the schema's deepest real query needs (depth 5, cost ~150). */
export const LIMITS = { depth: 8, cost: 5_000, aliases: 15, tokens: 2_000, directives: 10 };

/** graphql-armor's limits at LIMITS; field suggestions blocked in production. */
export function armorPlugins(production: boolean) {
  return new EnvelopArmor({
    maxDepth: { n: LIMITS.depth },
    costLimit: { maxCost: LIMITS.cost },
    maxAliases: { n: LIMITS.aliases },
    maxTokens: { n: LIMITS.tokens },
    maxDirectives: { n: LIMITS.directives },
    blockFieldSuggestion: { enabled: production },
  }).protect();
}
/** Distinct operation names that get their own metric label; later ones are `other`. */
const OPERATION_NAMES_MAX = 100;

export interface GraphqlDeps {
  services: GraphqlServices;
  logger: Logger;
  http: { bodyLimit: string; requestTimeoutMs: number; corsPolicy?: RequestHandler };
  /** The REST rate limits (absent: none). */
  limits?: GraphqlLimits & { anonymousCall(ip: string): Promise<void>; readCall(userId: string): Promise<void> };
  /** The client address as REST computes it (TRUST_PROXY). */
  clientIp: (req: Request) => string;
  /** Introspection and field suggestions off. */
  production: boolean;
}

interface ServerContext {
  req: Request;
  res: Response;
}

export function graphqlRouter(deps: GraphqlDeps): Router {
  const failures = new FailureReporter(deps.logger);
  const names = new Set<string>();
  const nameLabel = (name: string | undefined) => {
    if (!name) return 'anonymous';
    if (names.has(name)) return name;
    if (names.size < OPERATION_NAMES_MAX && /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) return (names.add(name), name);
    return 'other';
  };

  const armor = armorPlugins(deps.production);

  const noIntrospection: Plugin = {
    onValidate: ({ addValidationRule }) => addValidationRule(NoSchemaIntrospectionCustomRule),
  };

  /** Metrics, access log line and outcome of each operation (executed or refused before). */
  const observed: Plugin<YogaInitialContext & GraphqlContext> = {
    onExecute: ({ args }) => {
      const started = process.hrtime.bigint();
      const { document, operationName, contextValue } = args as {
        document: DocumentNode;
        operationName?: string | null;
        contextValue: GraphqlContext;
      };
      const operation = operationOf(document, operationName ?? undefined);
      const type = operation?.operation ?? 'none';
      const name = nameLabel(operation?.name?.value ?? operationName ?? undefined);
      return {
        onExecuteDone: ({ result }) => {
          const errors: ReadonlyArray<{ extensions?: { code?: unknown } }> =
            'errors' in result ? ((result.errors as ReadonlyArray<{ extensions?: { code?: unknown } }> | undefined) ?? []) : [];
          const outcome = errors.length === 0 ? 'ok' : codeLabel(errors[0]!.extensions?.code);
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          graphqlOperations.inc({ operation: name, type, outcome });
          graphqlDuration.observe({ type }, seconds);
          deps.logger.info(
            { operation: name, type, outcome, duration_ms: Math.round(seconds * 1000), request_id: contextValue.call.requestId },
            'graphql operation',
          );
        },
      };
    },
    onResultProcess: ({ result }) => {
      // Refused before execution (parse, validation, a limit, CSRF, method): no onExecute ran.
      const results = Array.isArray(result) ? result : [result];
      for (const one of results) {
        const errors = (one as { errors?: Array<{ extensions?: { code?: unknown } }> }).errors;
        if (one && 'data' in one) continue;
        if (errors && errors.length > 0)
          graphqlOperations.inc({ operation: 'rejected', type: 'none', outcome: codeLabel(errors[0]!.extensions?.code) });
      }
    },
  };

  /**
   * A signed-in query operation takes one point of the user's reads limit before it runs; refused:
   * 429 with Retry-After. Nothing to charge (a mutation, anonymous, no limits): no promise either.
   */
  const readLimit: Plugin<YogaInitialContext & GraphqlContext & ServerContext> = {
    onExecute: ({ args, setResultAndStopExecution }) => {
      const { document, operationName, contextValue } = args as {
        document: DocumentNode;
        operationName?: string | null;
        contextValue: ServerContext;
      };
      const actor = actorOf(contextValue.req);
      if (!deps.limits || !actor || operationOf(document, operationName ?? undefined)?.operation !== OperationTypeNode.QUERY) return;
      return deps.limits.readCall(actor.userId).then(undefined, (error: unknown) => {
        if (!(error instanceof DomainError)) throw error;
        const refused = domainGraphqlError(error);
        const retry = refused.extensions.retryAfterSeconds;
        // Yoga answers with extensions.http's status and headers, and leaves them out of the body.
        const headers: Record<string, string> = typeof retry === 'number' ? { 'Retry-After': String(retry) } : {};
        const http = { status: 429, headers };
        setResultAndStopExecution({ errors: [new GraphQLError(refused.message, { extensions: { ...refused.extensions, http } })] });
      });
    },
  };

  const yoga = createYoga<ServerContext, GraphqlContext>({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    graphiql: false,
    landingPage: false,
    // CORS is the app's one policy (corsPolicy, mounted above Yoga): Yoga's own default answered
    // every origin, with credentials, whatever CORS_ORIGINS says.
    cors: false,
    logging: false,
    batching: { limit: BATCH_LIMIT },
    // Replaced by documentCache() below (the same caches, without re-deriving a key from the rules per request).
    parserAndValidationCache: false,
    maskedErrors: { maskError: maskError((error) => failures.report(error, { source: 'http', method: 'POST', route: GRAPHQL_PATH })) },
    context: ({ req, res }) =>
      graphqlContext({
        services: deps.services,
        limits: deps.limits,
        // What the authentication stage found for this request (once, as for REST).
        authenticate: async () => requireActor(req),
        call: { ip: deps.clientIp(req), requestId: (res.locals.requestId as string | undefined) ?? null },
      }),
    plugins: [
      useCSRFPrevention({ requestHeaders: CSRF_HEADERS }),
      ...armor.plugins,
      ...(deps.production ? [noIntrospection] : []),
      readLimit,
      observed,
      documentCache(),
    ],
  });

  const router = Router();
  router.use(GRAPHQL_PATH, (_req: Request, res: Response, next: NextFunction) => {
    res.locals.routeTemplate = GRAPHQL_PATH;
    next();
  });
  if (deps.http.corsPolicy) router.use(GRAPHQL_PATH, deps.http.corsPolicy);
  router.use(GRAPHQL_PATH, requestTimeout(deps.http.requestTimeoutMs));
  // Authentication once per request, by the stage REST uses (a bad token leaves the caller anonymous).
  router.use(
    GRAPHQL_PATH,
    authentication((token) => deps.services.auth.authenticate(token)),
  );
  // REST's read limits. Without a valid token: one point of the client IP's anonymous limit per
  // request, before the body is parsed (as REST charges every public request). Signed in: the
  // user's reads limit, one point per query operation executed (readLimit below); a mutation
  // costs only its write point, in the resolver, as its REST twin does.
  router.use(GRAPHQL_PATH, async (req: Request, res: Response, next: NextFunction) => {
    if (!deps.limits || actorOf(req)) return next();
    try {
      await deps.limits.anonymousCall(deps.clientIp(req));
      next();
    } catch (error) {
      if (!(error instanceof DomainError)) return next(error);
      const graphqlError = domainGraphqlError(error);
      const retry = graphqlError.extensions.retryAfterSeconds;
      if (typeof retry === 'number') res.setHeader('Retry-After', String(retry));
      res.status(429).json({ errors: [graphqlError.toJSON()] });
    }
  });
  // POST bodies: JSON only, REST's parser and limit (middleware, not a route: GraphQL is not in the OpenAPI document).
  const bodies = Router();
  bodies.use(
    requireJsonBodies(),
    express.json({ limit: deps.http.bodyLimit, strict: true, type: ['application/json', 'application/*+json'] }),
    bodyParserErrors(),
  );
  router.use(GRAPHQL_PATH, (req: Request, res: Response, next: NextFunction) => (req.method === 'POST' ? bodies(req, res, next) : next()));
  router.use(GRAPHQL_PATH, (req: Request, res: Response) => void yoga(req, res, { req, res }));
  return router;
}

/** An error code as a metric label: lower-case, one of a bounded set (the table's codes, GraphQL's, Yoga's). */
function codeLabel(code: unknown): string {
  return typeof code === 'string' && /^[A-Z_]{1,40}$/.test(code) ? code.toLowerCase() : 'error';
}

/** The operation definitions of each parsed document (documents come from the parse cache: one list per distinct document). */
const operationsOf = new WeakMap<DocumentNode, readonly OperationDefinitionNode[]>();

function operationOf(document: DocumentNode, name: string | undefined): OperationDefinitionNode | undefined {
  let operations = operationsOf.get(document);
  if (!operations) {
    operations = document.definitions.filter(
      (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
    );
    operationsOf.set(document, operations);
  }
  return name ? operations.find((operation) => operation.name?.value === name) : operations.length === 1 ? operations[0] : undefined;
}

/** Distinct documents (and refused sources) remembered, as Yoga's own cache (1,024 for an hour). */
const DOCUMENT_CACHE = { max: 1024, ttlMs: 3_600_000 };

/**
 * Parse and validation once per distinct document: the parsed document (or the parse error,
 * graphql-armor's token limit included) by source text; the validation verdict (the standard
 * rules, no introspection in production) or graphql-armor's refusal (depth, cost, alias and
 * directive limits throw) by the parsed document's identity. The rules are the same for every
 * request of this router, so the document alone is the key. Last of the plugins: the limits' hooks
 * ran before it; a hit skips the parse and the validation they set up.
 */
export function documentCache(options: { max: number; ttlMs: number } = DOCUMENT_CACHE): Plugin {
  const parsed = new LRUCache<string, DocumentNode>({ max: options.max, ttl: options.ttlMs });
  const refused = new LRUCache<string, Error>({ max: options.max, ttl: options.ttlMs });
  const verdicts = new WeakMap<DocumentNode, readonly GraphQLError[]>();
  // graphql-armor's depth, cost, alias and directive limits refuse by throwing from validation.
  const rejections = new WeakMap<DocumentNode, unknown>();
  return {
    onParse: ({ params, setParsedDocument }) => {
      const given = params.source as string | Source;
      const source = typeof given === 'string' ? given : given.body;
      const document = parsed.get(source);
      if (document) return setParsedDocument(document);
      const error = refused.get(source);
      if (error) throw error;
      return ({ result }) => {
        if (result instanceof Error) refused.set(source, result);
        else if (result) parsed.set(source, result as DocumentNode);
      };
    },
    onValidate: ({ params, setResult, validateFn, setValidationFn }) => {
      const document = params.documentAST as DocumentNode;
      const verdict = verdicts.get(document);
      if (verdict) return setResult(verdict);
      if (rejections.has(document)) throw rejections.get(document);
      setValidationFn((...args: Parameters<typeof validate>) => {
        try {
          return (validateFn as typeof validate)(...args);
        } catch (error) {
          rejections.set(document, error);
          throw error;
        }
      });
      return ({ result }) => void verdicts.set(document, result as readonly GraphQLError[]);
    },
  };
}
