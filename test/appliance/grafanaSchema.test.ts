import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '../support/paths.js';

/**
 * The Grafana dashboard against Grafana's own schema: @grafana/schema (Apache-2.0) ships the
 * classic dashboard JSON model as TypeScript types generated from Grafana's CUE schema
 * (`Dashboard` in raw/dashboard/x/types.gen.d.ts). The dashboard's JSON, pasted as an object
 * literal typed `Dashboard`, must compile: every field the schema names has its type (literal
 * unions included: a panel's `type` is free text there, `graphTooltip` a number, …), required
 * fields are present, and a field the schema does not know is an error (TypeScript's excess
 * property check on literals) — except inside `options`/`fieldConfig.custom`/targets, which the
 * schema leaves open (`any`/`Record<string, unknown>`) because each plugin defines its own.
 * One exception, taken out before the check: a query variable's `definition` (the query as the
 * variable editor displays it), which Grafana's own exports write but the schema's
 * `VariableModel` does not list.
 */
const DASHBOARD = join(REPO_ROOT, 'config', 'grafana-dashboard.json');

/** dashboardJson: the shipped dashboard, query variables' `definition` taken out (see above). */
function dashboardJson(): Record<string, any> {
  const d = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
  for (const v of d.templating?.list ?? []) delete v.definition;
  return d;
}

/** typesFile: the installed @grafana/schema's dashboard types, or why there are none. */
function typesFile(): string | { why: string } {
  try {
    const pkg = createRequire(import.meta.url).resolve('@grafana/schema/package.json');
    return join(dirname(pkg), 'dist', 'types', 'raw', 'dashboard', 'x', 'types.gen.d.ts');
  } catch {
    return { why: '@grafana/schema is not installed (a devDependency: npm install)' };
  }
}

/** check compiles `const d: Dashboard = <json>` and returns tsc's diagnostics, one line each. */
function check(types: string, json: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'bpfbox-grafana-'));
  try {
    const file = join(dir, 'dashboard.ts');
    const spec = types.replace(/\.d\.ts$/, '.js');
    writeFileSync(file, `import type { Dashboard } from ${JSON.stringify(spec)};\nexport const d: Dashboard = ${json};\n`);
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      skipLibCheck: true,
    });
    return ts
      .getPreEmitDiagnostics(program)
      .map(
        (d) =>
          `${d.file && d.start !== undefined ? `line ${d.file.getLineAndCharacterOfPosition(d.start).line}: ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`,
      );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("config: the Grafana dashboard against Grafana's schema (@grafana/schema)", function () {
  this.timeout(180_000);
  let types: string;
  before(function () {
    const t = typesFile();
    if (typeof t !== 'string') {
      console.log(`  Grafana schema check: SKIPPED: ${t.why}`);
      this.skip();
    }
    types = t;
  });

  it('config/grafana-dashboard.json type-checks as a Dashboard', () => {
    assert.deepEqual(check(types, JSON.stringify(dashboardJson(), null, 2)), []);
  });

  it('the check fails where the schema says no: a misspelled top-level field, a wrong type, a bad panel field', () => {
    const dash = dashboardJson();
    const broken = (f: (d: Record<string, any>) => void) => {
      const d = structuredClone(dash);
      f(d);
      return check(types, JSON.stringify(d, null, 2));
    };
    assert.match(broken((d) => (d.refrsh = '10s')).join('\n'), /'"?refrsh"?' does not exist in type 'Dashboard'/);
    assert.match(broken((d) => (d.graphTooltip = 'shared')).join('\n'), /not assignable to type 'number'|DashboardCursorSync/);
    assert.match(
      broken((d) => (d.panels[0].gridPos = { x: 0, y: 0 })).join('\n'),
      /missing the following properties from type 'GridPos': h, w/,
    );
  });
});
