/**
 * What kube-prometheus-stack needs to watch GoTicket: ServiceMonitors for the api and worker,
 * the PrometheusRule (rules.ts) and the dashboards (dashboards.ts) as ConfigMaps its Grafana
 * sidecar loads. The `release` label is what the stack's Prometheus selects ServiceMonitors and
 * rules by (serviceMonitorSelector/ruleSelector default to the Helm release).
 */
import { ApiObject, Chart } from 'cdk8s';
import { type Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { type Environment } from '../environments';
import { APP, APP_PORT_NAME, HTTP_COMPONENTS, MONITORING, NAMESPACE } from '../../platform/contract';
import { CHART_PROPS, meta, selectorLabels } from '../lib';
import { DASHBOARDS } from './dashboards';
import { ruleGroups } from './rules';

/** How often Prometheus scrapes the service (the recording rules' 5 min windows hold 20 samples). */
export const SCRAPE_INTERVAL = '15s';

export class ObservabilityChart extends Chart {
  constructor(scope: Construct, id: string, _props: { env: Environment }) {
    super(scope, id, CHART_PROPS);
    for (const component of HTTP_COMPONENTS) {
      new ApiObject(this, `servicemonitor-${component}`, {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        metadata: meta(`${APP}-${component}`, { ...selectorLabels(APP, component), ...MONITORING.releaseLabel }),
        spec: {
          selector: { matchLabels: selectorLabels(APP, component) },
          namespaceSelector: { matchNames: [NAMESPACE] },
          endpoints: [{ port: APP_PORT_NAME, path: '/metrics', interval: SCRAPE_INTERVAL, scrapeTimeout: '10s', scheme: 'http' }],
        },
      });
    }
    new ApiObject(this, 'prometheusrule', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: meta(APP, MONITORING.releaseLabel),
      spec: ruleGroups(),
    });
    for (const { name, build } of DASHBOARDS) {
      new k8s.KubeConfigMap(this, `dashboard-${name}`, {
        metadata: meta(`${name}-dashboard`, { grafana_dashboard: '1' }, { [MONITORING.grafanaFolderAnnotation]: 'GoTicket' }),
        data: { [`${name}.json`]: `${JSON.stringify(build(), null, 2)}\n` },
      });
    }
  }
}
