import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import standalone from 'ajv/dist/standalone/index.js';

/** The schema, and the generated module it becomes (committed; test/appliance/schemaValidator.test.ts checks it is current). */
export const SCHEMA_JSON = fileURLToPath(new URL('../../../config/schema.json', import.meta.url));
export const VALIDATOR_TS = fileURLToPath(new URL('../../../appliance/config/schemaValidator.ts', import.meta.url));

/**
 * schemaValidatorSource: config/schema.json compiled by ajv ahead of time (ajv's standalone
 * code, an ES module), so that loading the config module compiles nothing and loads no ajv.
 * The options are the ones config.ts validated with at run time (all errors, not strict).
 */
export function schemaValidatorSource(schemaText = readFileSync(SCHEMA_JSON, 'utf8')): string {
  const ajv = new Ajv({ allErrors: true, strict: false, code: { source: true, esm: true } });
  const code = standalone.default(ajv, ajv.compile(JSON.parse(schemaText)));
  return [
    '// @ts-nocheck',
    '// Generated from config/schema.json by appliance/config/genSchemaValidator.ts (ajv standalone code): do not edit.',
    '// After changing the schema: npm run gen:schema',
    code,
    '',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(VALIDATOR_TS, schemaValidatorSource());
  console.log(`wrote ${VALIDATOR_TS}`);
}
