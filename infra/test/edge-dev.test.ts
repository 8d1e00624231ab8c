/** The edge of the dev stack (Kind) under Pulumi mocks: infra/test/edge-cases.ts. */
import { edgeTests } from './edge-cases';

edgeTests('dev');
