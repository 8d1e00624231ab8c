/**
 * `make run`'s first step: stops with one line when another local instance holds the data folder
 * (DATA_DIR, default .data), before `make build` deletes and rebuilds build/app under it.
 */
import { holderOf, inUseMessage } from '../app/src/adapters/local-instance';

const dataDir = process.env.DATA_DIR || '.data';
const holder = holderOf(dataDir);
if (holder !== null) {
  console.error(inUseMessage(dataDir, holder));
  process.exit(1);
}
