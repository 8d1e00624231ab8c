#!/usr/bin/env node
// tsc copies no SQL: put the migrations next to the compiled runner.
const fs = require('node:fs');
const path = require('node:path');
const root = path.resolve(__dirname, '..');
const from = path.join(root, 'app/src/adapters/postgres/migrations');
const to = path.join(root, 'build/app/adapters/postgres/migrations');
fs.mkdirSync(to, { recursive: true });
for (const file of fs.readdirSync(from)) fs.copyFileSync(path.join(from, file), path.join(to, file));
