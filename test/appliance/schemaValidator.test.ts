import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { schemaValidatorSource, VALIDATOR_TS } from '../../appliance/config/genSchemaValidator.js';
import validateSchema from '../../appliance/config/schemaValidator.js';
import { REPO_ROOT } from '../support/paths.js';

describe('config: the schema validator compiled at build time', () => {
  it('appliance/config/schemaValidator.ts is current with config/schema.json (else: npm run gen:schema)', () => {
    assert.equal(readFileSync(VALIDATOR_TS, 'utf8'), schemaValidatorSource(), 'stale: run npm run gen:schema');
  });

  it('a changed schema gives different code (the check above can fail)', () => {
    const schema = JSON.parse(readFileSync(join(REPO_ROOT, 'config', 'schema.json'), 'utf8'));
    schema.properties.workers.maximum = 255;
    assert.notEqual(schemaValidatorSource(JSON.stringify(schema)), readFileSync(VALIDATOR_TS, 'utf8'));
  });

  it('gives the same verdicts and errors as ajv compiling the schema at run time', () => {
    const schema = JSON.parse(readFileSync(join(REPO_ROOT, 'config', 'schema.json'), 'utf8'));
    const runtime = new Ajv({ allErrors: true, strict: false }).compile(schema);
    const v = validateSchema as unknown as typeof runtime;
    const cases: unknown[] = [
      { programs: [{ name: 'fw', obj: 'x.o' }] },
      { programs: [] },
      { programs: [{ name: '1bad', obj: 3, extra: true }], workers: 0 },
      { programs: [{ name: 'a', obj: 'a.o', type: 'nope' }], sources: [{ program: 'a', captures: [], mode: 'rate', rate: -1 }] },
      { programs: [{ name: 'a', obj: 'a.o' }], interfaces: [{ name: 'this-name-is-too-long', program: 'a', offloads: 'x' }] },
      {
        programs: [{ name: 'a', obj: 'a.o' }],
        exporter: { counters: [{ name: 'c', help: 'h', map: 'm', labels: [{ name: 'l', size: 0 }] }], histograms: [{ name: 'h' }] },
      },
      'not an object',
    ];
    let refused = 0;
    for (const c of cases) {
      const ok = v(c);
      assert.equal(ok, runtime(c), JSON.stringify(c));
      assert.deepEqual(v.errors ?? null, runtime.errors ?? null, JSON.stringify(c));
      if (!ok) refused++;
    }
    assert.equal(refused, cases.length - 1);
  });
});
