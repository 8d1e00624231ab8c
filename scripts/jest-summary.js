#!/usr/bin/env node
// Prints the one closing line CI reads: "N passed, M failed", from jest's JSON results.
const fs = require('node:fs');
const file = process.argv[2] ?? 'build/jest-results.json';
try {
  const results = JSON.parse(fs.readFileSync(file, 'utf8'));
  const failed = results.numFailedTests + (results.numRuntimeErrorTestSuites ?? 0);
  console.log(`${results.numPassedTests} passed, ${failed} failed`);
} catch (error) {
  console.log(`0 passed, 1 failed`);
  console.error(`jest-summary: cannot read ${file}: ${error.message}`);
  process.exitCode = 1;
}
