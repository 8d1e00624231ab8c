/** `npm run policy:manifests -- [--env dev|prod] <dir|file>...`: see manifests.ts. */
import { runManifestCheck } from './manifests';

const result = runManifestCheck(process.argv.slice(2));
for (const line of result.out) console.log(line);
for (const line of result.err) console.error(line);
process.exitCode = result.exitCode;
