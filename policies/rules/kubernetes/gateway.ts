/**
 * The edge (Gateway API): every route attaches to the cluster's one shared Gateway, and nothing
 * public is served without TLS. Applies to the app's HTTPRoute in dist/ and to the Gateway and
 * routes Pulumi creates (infra/components/edge.ts), alike.
 */
import { namespaceOf, type Manifest } from '../../lib/manifest';
import type { ManifestRule, PolicySettings } from '../../lib/types';
import { record, records, str } from '../../lib/values';

const GATEWAY_GROUP = 'gateway.networking.k8s.io';
const ROUTE_KINDS = new Set(['HTTPRoute', 'GRPCRoute', 'TLSRoute', 'TCPRoute', 'UDPRoute']);

const isGatewayApi = (m: Manifest): boolean => m.apiVersion.startsWith(`${GATEWAY_GROUP}/`);
const isRoute = (m: Manifest): boolean => isGatewayApi(m) && ROUTE_KINDS.has(m.kind);

interface ParentRef {
  group: string;
  kind: string;
  name: string;
  namespace: string;
  sectionName?: string;
}

/** A route's parentRefs with the Gateway API's defaults filled in (group, kind Gateway, the route's namespace). */
function parentRefs(route: Manifest): ParentRef[] {
  return records(record(route.spec).parentRefs).map((ref) => ({
    group: str(ref.group) ?? GATEWAY_GROUP,
    kind: str(ref.kind) ?? 'Gateway',
    name: str(ref.name) ?? '',
    namespace: str(ref.namespace) ?? namespaceOf(route) ?? '',
    sectionName: str(ref.sectionName),
  }));
}

const isShared = (ref: ParentRef, settings: PolicySettings): boolean =>
  ref.group === GATEWAY_GROUP &&
  ref.kind === 'Gateway' &&
  ref.name === settings.sharedGateway.name &&
  ref.namespace === settings.sharedGateway.namespace;

export const routeOnSharedGateway: ManifestRule = {
  kind: 'manifest',
  name: 'k8s-route-shared-gateway',
  level: 'mandatory',
  description: "Every Gateway API route (HTTPRoute, GRPCRoute, ...) attaches to the cluster's shared Gateway, and only to it.",
  remediation:
    'Set spec.parentRefs to the shared Gateway (platform/contract.ts EDGE.gateway: name and namespace) with the sectionName of its listener for your host; ask the platform team for a listener instead of creating a Gateway.',
  rationale:
    'One Gateway owned by the platform is the one place TLS, the redirect, the load balancer and its annotations are set and reviewed; a route on a Gateway of its own opens a second, unreviewed entry point (and a second load balancer).',
  benchmark:
    'Gateway API role-oriented model (GEP-1709 conformance: infrastructure provider / cluster operator / application developer); CIS EKS 5.4.5',
  check: (m, ctx) => {
    if (!isRoute(m)) return [];
    const refs = parentRefs(m);
    if (refs.length === 0)
      return [
        `${m.kind} has no parentRefs (it attaches to no Gateway; name ${ctx.settings.sharedGateway.namespace}/${ctx.settings.sharedGateway.name})`,
      ];
    return refs
      .filter((ref) => !isShared(ref, ctx.settings))
      .map(
        (ref) =>
          `${m.kind} attaches to ${ref.kind} ${ref.namespace}/${ref.name}, not the shared Gateway ${ctx.settings.sharedGateway.namespace}/${ctx.settings.sharedGateway.name}`,
      );
  },
};

/** A rule that only redirects to https (the platform's port-80 route): no backend is reached over plain HTTP. */
function redirectsToHttpsOnly(route: Manifest): boolean {
  const rules = records(record(route.spec).rules);
  return (
    rules.length > 0 &&
    rules.every(
      (rule) =>
        records(rule.backendRefs).length === 0 &&
        records(rule.filters).some((f) => str(f.type) === 'RequestRedirect' && str(record(f.requestRedirect).scheme) === 'https'),
    )
  );
}

export const noRouteWithoutTls: ManifestRule = {
  kind: 'manifest',
  name: 'k8s-route-tls-only',
  level: 'mandatory',
  description:
    "Nothing public is served without TLS: routes on the shared Gateway name one of its HTTPS listeners (only a redirect to https may use the plain-HTTP one), and every HTTPS listener of a Gateway terminates TLS with a certificate while its HTTP listeners take routes from the Gateway's own namespace only.",
  remediation:
    "Give each parentRef the sectionName of your host's HTTPS listener (EDGE.listeners); on a Gateway, set tls.mode Terminate with certificateRefs on HTTPS listeners and allowedRoutes.namespaces.from: Same on HTTP ones.",
  rationale:
    'A parentRef without sectionName attaches to every listener, port 80 included: the app would answer in clear text next to its HTTPS host. An HTTP listener open to every namespace lets any team do the same.',
  benchmark: 'CIS EKS 5.4.5 (encrypt traffic to HTTPS load balancers with TLS); NIST SP 800-52r2',
  check: (m, ctx) => {
    const tls = new Set(ctx.settings.tlsListeners);
    if (isRoute(m)) {
      if (m.kind !== 'HTTPRoute' && m.kind !== 'GRPCRoute') return [];
      if (redirectsToHttpsOnly(m)) return [];
      return parentRefs(m)
        .filter((ref) => isShared(ref, ctx.settings))
        .filter((ref) => ref.sectionName === undefined || !tls.has(ref.sectionName))
        .map((ref) =>
          ref.sectionName === undefined
            ? `${m.kind} names no sectionName: it attaches to every listener of ${ref.namespace}/${ref.name}, plain HTTP included`
            : `${m.kind} attaches to listener ${ref.sectionName}, which is not an HTTPS listener (${[...tls].join(', ')})`,
        );
    }
    if (isGatewayApi(m) && m.kind === 'Gateway') {
      const out: string[] = [];
      for (const listener of records(record(m.spec).listeners)) {
        const name = str(listener.name) ?? '?';
        const protocol = str(listener.protocol);
        if (protocol === 'HTTPS') {
          const t = record(listener.tls);
          if ((str(t.mode) ?? 'Terminate') !== 'Terminate' || records(t.certificateRefs).length === 0)
            out.push(`listener ${name} (HTTPS) does not terminate TLS with a certificate (tls.mode Terminate, certificateRefs)`);
        } else if (protocol === 'HTTP') {
          const from = str(record(record(listener.allowedRoutes).namespaces).from) ?? 'Same';
          if (from !== 'Same')
            out.push(
              `listener ${name} (plain HTTP) takes routes from ${from} namespaces (only the Gateway's own redirect may use it: allowedRoutes.namespaces.from Same)`,
            );
        }
      }
      return out;
    }
    return [];
  },
};

export const gatewayRules: ManifestRule[] = [routeOnSharedGateway, noRouteWithoutTls];
