/** The edge of the prod stack (EKS) under Pulumi mocks: infra/test/edge-cases.ts. */
import { edgeTests } from './edge-cases';

edgeTests('prod');
