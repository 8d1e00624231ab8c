#!/usr/bin/env node
// tsc copies no SQL: put the migrations (the booking side's and the payments service's) next to the compiled code.
const fs = require('node:fs');
const path = require('node:path');
const root = path.resolve(__dirname, '..');
for (const dir of ['adapters/postgres/migrations', 'payments/migrations']) {
  const from = path.join(root, 'app/src', dir);
  const to = path.join(root, 'build/app', dir);
  fs.mkdirSync(to, { recursive: true });
  for (const file of fs.readdirSync(from)) fs.copyFileSync(path.join(from, file), path.join(to, file));
}
