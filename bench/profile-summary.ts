/** `npx tsx bench/profile-summary.ts <file.cpuprofile> [top N]`: self time per function and per package. */
import { renderProfile, summarizeProfileFile } from './lib/cpuprofile';

const [file, limit] = process.argv.slice(2);
if (!file) {
  console.error('usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top N]');
  process.exit(2);
}
console.log(renderProfile(summarizeProfileFile(file, limit ? Number(limit) : 25)));
