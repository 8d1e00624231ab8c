/**
 * GoTicket Pulumi program (Pulumi.yaml `main: infra/`). Reads the stack's typed config once and
 * composes the components for its environment; see infra/README.md.
 */
import * as path from 'node:path';
import { loadStackConfig } from './config';
import { createStack } from './stack';

const out = createStack(loadStackConfig(), path.resolve(__dirname, '..'));

export const environment = out.environment;
export const kubeconfig = out.kubeconfig;
export const clusterName = out.clusterName;
export const ingressHostname = out.ingressHostname;
export const appUrl = out.appUrl;
export const grafanaUrl = out.grafanaUrl;
export const argocdUrl = out.argocdUrl;
export const ingressAddress = out.ingressAddress;
export const databaseEndpoint = out.databaseEndpoint;
export const cacheEndpoint = out.cacheEndpoint;
export const brokerEndpoint = out.brokerEndpoint;
export const registryUrl = out.registryUrl;
export const sealingCertificate = out.sealingCertificate;
export const grafanaAdminPassword = out.grafanaAdminPassword;
export const runtimeSecret = out.runtimeSecret;
export const paymentsSecret = out.paymentsSecret;
export const gitopsSource = out.gitopsSource;
