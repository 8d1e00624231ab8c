/**
 * `npm run graphql:schema`: writes the GraphQL schema the code builds to app/src/graphql/schema.graphql
 * (the committed contract). `--check`: exits 1 with one line when the file differs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { printedSchema } from '../app/src/graphql/schema';

export const SCHEMA_FILE = path.resolve(__dirname, '..', 'app', 'src', 'graphql', 'schema.graphql');

if (require.main === module) {
  const printed = printedSchema();
  if (process.argv.includes('--check')) {
    const committed = readFileSync(SCHEMA_FILE, 'utf8');
    if (committed !== printed) {
      console.error(
        `${path.relative(process.cwd(), SCHEMA_FILE)} differs from the schema the code builds: run npm run graphql:schema and commit it`,
      );
      process.exitCode = 1;
    }
  } else {
    writeFileSync(SCHEMA_FILE, printed);
  }
}
