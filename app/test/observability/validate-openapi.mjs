// Validates an OpenAPI document read from stdin against the official schema of its version
// (@seriousme/openapi-schema-validator is ESM-only: jest runs this file as a child process).
import { Validator } from '@seriousme/openapi-schema-validator';

let text = '';
for await (const chunk of process.stdin) text += chunk;
const validator = new Validator();
const result = await validator.validate(JSON.parse(text));
process.stdout.write(JSON.stringify({ valid: result.valid, version: validator.version, errors: result.errors ?? null }));
