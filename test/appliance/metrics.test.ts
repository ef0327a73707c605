import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';
import { CLI, startServeConfig } from './cliSupport.js';
import { loadConfig } from '../../appliance/config/config.js';
import type { Config } from '../../appliance/config/config.js';
import { metricNameWarnings } from '../../appliance/config/metricNames.js';
import { wantsOpenMetrics } from '../../appliance/service/metrics/http.js';
import { parseExposition } from '../support/exposition.js';

const require = createRequire(import.meta.url);
const EXAMPLE = join(REPO_ROOT, 'config', 'appliance.yaml');
const DASHBOARD = join(REPO_ROOT, 'config', 'grafana-dashboard.json');

const cfg = (exporter: Config['exporter']): Config => ({ programs: [{ name: 'p', obj: 'x.o' }], exporter }) as unknown as Config;
const counter = (name: string, fields?: string[]) => ({ name, help: 'h', map: 'm', fields });

describe('metrics: Prometheus naming check of exporter entries', () => {
  it('the shipped example configs pass', () => {
    for (const f of ['appliance.yaml', 'firewall.yaml']) {
      const path = join(REPO_ROOT, 'config', f);
      assert.deepEqual(metricNameWarnings(loadConfig(path), path), [], f);
    }
  });

  it("warns on the example's former names: a field label over packets and bytes, a counter in ns without _total", () => {
    const w = metricNameWarnings(
      cfg({ counters: [counter('bpfbox_proto_packets_total', ['packets', 'bytes']), counter('bpfbox_source_last_seen_ns')] }),
      'c.yaml',
    );
    assert.deepEqual(w, [
      'c.yaml: exporter.counters[0] (bpfbox_proto_packets_total): its field label mixes units (packets, bytes); one metric per unit',
      "c.yaml: exporter.counters[1] (bpfbox_source_last_seen_ns): a counter's name ends in _total",
      'c.yaml: exporter.counters[1] (bpfbox_source_last_seen_ns): "ns" is not a base unit; Prometheus names use seconds',
    ]);
  });

  it('warns on each rule, and not on names that keep them', () => {
    const w = metricNameWarnings(
      cfg({
        counters: [
          counter('rx_kb_total'),
          counter('drops_total', ['rx_drops', 'tx_drops']),
          counter('wire_bytes_total', ['packets']),
          counter('busy_seconds_total'),
        ],
        gauges: [{ ...counter('lag_ms'), scale: 1 }, { ...counter('things_total') }, counter('last_seen_seconds')],
        histograms: [{ ...counter('latency_ms'), bucket_type: 'exp2', bucket_min: 0, bucket_max: 3 }],
      }),
      'c.yaml',
    ).map((l) => l.replace(/^c\.yaml: /, ''));
    assert.deepEqual(w, [
      'exporter.counters[0] (rx_kb_total): "kb" is not a base unit; Prometheus names use bytes',
      'exporter.counters[2] (wire_bytes_total): its name says bytes but its field is in packets',
      'exporter.gauges[0] (lag_ms): "ms" is not a base unit; Prometheus names use seconds',
      'exporter.gauges[1] (things_total): _total is for counters; a gauge does not end in it',
      'exporter.histograms[0] (latency_ms): "ms" is not a base unit; Prometheus names use seconds',
    ]);
  });

  it('reads Accept as a scraper sends it', () => {
    // Prometheus 2.x's scrape Accept header
    assert.ok(
      wantsOpenMetrics(
        'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      ),
    );
    assert.ok(!wantsOpenMetrics('text/plain;version=0.0.4'));
    assert.ok(!wantsOpenMetrics(undefined));
    assert.ok(!wantsOpenMetrics('*/*'));
    assert.ok(!wantsOpenMetrics('application/openmetrics-text;q=0, text/plain'));
  });
});

describe('metrics: a serve of config/appliance.yaml, scraped over HTTP', function () {
  this.timeout(60_000);
  let state: string;
  let serve: Awaited<ReturnType<typeof startServeConfig>> | undefined;
  let text = '';
  before(async () => {
    state = mkdtempSync(join(tmpdir(), 'bpfbox-metrics-state-'));
    serve = await startServeConfig(EXAMPLE, state);
    // bounded: until the sources have run some packets through the maps (the example paces 20,000 a second)
    for (let i = 0; i < 100; i++) {
      text = await (await fetch(serve.url)).text();
      if (parseExposition(text).some((s) => s.name === 'bpfbox_proto_bytes_total' && s.value > 0)) break;
      await new Promise((ok) => setTimeout(ok, 100));
    }
  });
  after(async () => {
    if (serve && serve.p.exitCode === null) {
      const exited = new Promise((ok) => serve!.p.once('exit', ok));
      serve.p.kill('SIGTERM');
      await exited;
    }
    rmSync(state, { recursive: true, force: true });
  });

  it('serve prints no naming warning for the example config', () => {
    assert.doesNotMatch(serve!.err(), /warning: .*exporter/);
  });

  it('warns at start, one line naming the config path, on a config that breaks the naming rules', async function () {
    // the check runs before anything loads: a config refused later (a map the program lacks) has warned first
    const { mkdtempSync: mk, writeFileSync } = await import('node:fs');
    const dir = mk(join(tmpdir(), 'bpfbox-metrics-bad-'));
    try {
      const bad = join(dir, 'bad.yaml');
      writeFileSync(
        bad,
        readFileSync(EXAMPLE, 'utf8')
          .replace(/\.\.\/bpf\//, `${REPO_ROOT}/bpf/`)
          .replace(/\.\.\/pcaps\//, `${REPO_ROOT}/pcaps/`)
          .replace('bpfbox_sampled_packets_total', 'bpfbox_sampled_packets')
          .replace('map: sampled', 'map: nosuch'),
      );
      const r = spawnSync(process.execPath, [CLI, 'serve', '--config', bad, '--metrics-addr', '127.0.0.1:0'], {
        env: { ...process.env, BPFBOX_BPFFS: join(dir, 'state') },
        encoding: 'utf8',
        timeout: 20_000,
        killSignal: 'SIGTERM',
      });
      assert.notEqual(r.status, 0, r.stderr);
      assert.match(r.stderr, /program stats has no map nosuch/);
      const lines = r.stderr.split('\n').filter((l) => /warning: .*exporter/.test(l));
      assert.deepEqual(
        lines,
        [`warning: ${bad}: exporter.counters[2] (bpfbox_sampled_packets): a counter's name ends in _total`],
        r.stderr,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('text format 0.0.4 by default, with the default process and Node.js series', async () => {
    const r = await fetch(serve!.url);
    assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const t = await r.text();
    const names = new Set(parseExposition(t).map((s) => s.name));
    for (const n of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'process_start_time_seconds',
      'nodejs_heap_size_used_bytes',
    ])
      assert.ok(names.has(n), `${n} missing`);
    // process_start_time_seconds is a Unix time; this process started before the serve it spawned
    const startTime = parseExposition(t).find((s) => s.name === 'process_start_time_seconds')!.value;
    assert.ok(startTime >= Math.floor(performance.timeOrigin / 1000), `${startTime}`);
    // the resident set of a Node process: more than 10 MB, and what /proc says within a factor of 2
    const rss = parseExposition(t).find((s) => s.name === 'process_resident_memory_bytes')!.value;
    const procRss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${serve!.p.pid}/status`, 'utf8'))![1]) * 1024;
    assert.ok(rss > 10e6 && rss < procRss * 2 && rss > procRss / 2, `${rss} vs /proc ${procRss}`);
  });

  it('one unit per family: packets and bytes apart, no field label; the last-seen gauge in seconds', () => {
    const xs = parseExposition(text);
    assert.match(text, /# TYPE bpfbox_proto_packets_total counter/);
    assert.match(text, /# TYPE bpfbox_proto_bytes_total counter/);
    assert.match(text, /# TYPE bpfbox_source_last_seen_seconds gauge/);
    const packets = xs.filter((s) => s.name === 'bpfbox_proto_packets_total');
    const bytes = xs.filter((s) => s.name === 'bpfbox_proto_bytes_total');
    assert.ok(packets.length > 0 && packets.every((s) => !('field' in s.labels)));
    assert.ok(bytes.length > 0 && bytes.every((s) => !('field' in s.labels)));
    // bytes are read after packets in the same scrape: at least the shortest frame's length per packet
    const lengths: number[] = [];
    const pp = require('pcap-parser').parse(join(REPO_ROOT, 'pcaps', 'sample.pcap'));
    return new Promise<void>((ok, fail) => {
      pp.on('packet', (x: { data: Buffer }) => lengths.push(x.data.length));
      pp.on('error', fail);
      pp.on('end', () => {
        try {
          const min = Math.min(...lengths);
          for (const p of packets) {
            const b = bytes.find((s) => s.labels.ethertype === p.labels.ethertype && s.labels.ip_proto === p.labels.ip_proto);
            assert.ok(b && b.value >= min * p.value, `${JSON.stringify(p)} vs ${JSON.stringify(b)}`);
          }
          const seen = xs.filter((s) => s.name === 'bpfbox_source_last_seen_seconds');
          assert.ok(seen.length > 0);
          // seconds of a clock that started with the service, not nanoseconds (1 ms is already 1e6 ns)
          for (const s of seen) assert.ok(s.value > 0 && s.value < 3600, `${JSON.stringify(s)}`);
          ok();
        } catch (e) {
          fail(e);
        }
      });
    });
  });

  it('OpenMetrics when the scraper asks for it, parsed by the Python client; text format unchanged after', async function () {
    const r = await fetch(serve!.url, {
      headers: { accept: 'application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5' },
    });
    assert.equal(r.headers.get('content-type'), 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    const om = await r.text();
    assert.ok(om.endsWith('# EOF\n'));
    assert.match(om, /^# TYPE bpfbox_packets counter$/m);
    assert.match(om, /^bpfbox_packets_total\{/m);
    assert.match(om, /^# TYPE bpfbox_proto_packets counter$/m);
    assert.match(om, /^bpfbox_proto_packets_total\{/m);
    assert.doesNotMatch(om, /_total_total/);
    // prom-client renames counters in place for OpenMetrics; the text format must keep _total
    const t = await (await fetch(serve!.url)).text();
    assert.match(t, /^# TYPE bpfbox_packets_total counter$/m);
    assert.match(t, /^bpfbox_proto_packets_total\{/m);
    // Debian's python3-prometheus-client; the first python3 on PATH may be another install
    const script =
      'import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as p\n' +
      'for f in p(sys.stdin.read()): print(f.type, f.name)';
    const runs = ['python3', '/usr/bin/python3'].map((py) =>
      spawnSync(py, ['-c', script], { input: om, encoding: 'utf8', timeout: 20_000 }),
    );
    const py = runs.find((x) => x.status === 0 || (x.stderr && !/No module named 'prometheus_client'|ENOENT/.test(x.stderr))) ?? runs[0];
    if (py.status !== 0 && (py.error || /No module named 'prometheus_client'/.test(py.stderr))) {
      console.log('    (no python3-prometheus-client: the strict OpenMetrics parse is skipped)');
      this.skip();
    }
    assert.equal(py.status, 0, py.stderr);
    const families = new Set(py.stdout.trim().split('\n'));
    for (const f of [
      'counter bpfbox_packets',
      'counter bpfbox_proto_bytes',
      'gauge bpfbox_source_last_seen_seconds',
      'histogram bpfbox_frame_size_bytes',
      'histogram bpfbox_program_run_seconds',
      'counter process_cpu_seconds',
      'gauge nodejs_heap_size_used_bytes',
    ])
      assert.ok(families.has(f), `${f} not among ${[...families].join('; ')}`);
  });

  it('the Grafana dashboard: its queries name only series this serve exports', () => {
    const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
    // families scraped (a labelled counter with no samples yet still has its # TYPE), and their samples
    const exported = new Set(parseExposition(text).map((s) => s.name));
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      exported.add(m[1]);
      if (m[2] === 'histogram') for (const x of ['_bucket', '_sum', '_count']) exported.add(m[1] + x);
    }
    const exprs: string[] = [
      ...dash.panels.flatMap((p: { targets: { expr: string }[] }) => p.targets.map((t) => t.expr)),
      ...dash.templating.list.filter((v: { type: string }) => v.type === 'query').map((v: { definition: string }) => v.definition),
    ];
    let checked = 0;
    for (const e of exprs) {
      const names = metricNames(e);
      assert.ok(names.length, `no metric in ${e}`);
      for (const n of names) {
        assert.ok(exported.has(n), `${n} (in ${e}) is not exported by a serve of config/appliance.yaml`);
        checked++;
      }
    }
    assert.ok(checked >= 14, `${checked}`);
  });

  it("the Grafana dashboard: the fields Grafana's import needs", () => {
    const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
    assert.equal(typeof dash.title, 'string');
    assert.ok(Number.isInteger(dash.schemaVersion) && dash.schemaVersion >= 36, `schemaVersion ${dash.schemaVersion}`);
    assert.ok(Array.isArray(dash.panels) && dash.panels.length > 0);
    const ids = new Set<number>();
    const cells = new Set<string>();
    for (const p of dash.panels) {
      const at = `panel ${p.id} (${p.title})`;
      assert.ok(Number.isInteger(p.id) && !ids.has(p.id), `${at}: id`);
      ids.add(p.id);
      assert.ok(['timeseries', 'heatmap', 'stat', 'gauge', 'table', 'bargauge'].includes(p.type), `${at}: type ${p.type}`);
      const g = p.gridPos;
      assert.ok(g && [g.x, g.y, g.w, g.h].every(Number.isInteger), `${at}: gridPos`);
      assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0, `${at}: gridPos ${JSON.stringify(g)} outside the 24 columns`);
      for (let x = g.x; x < g.x + g.w; x++)
        for (let y = g.y; y < g.y + g.h; y++) {
          assert.ok(!cells.has(`${x},${y}`), `${at}: overlaps another panel at ${x},${y}`);
          cells.add(`${x},${y}`);
        }
      assert.ok(Array.isArray(p.targets) && p.targets.length > 0, `${at}: targets`);
      const refs = p.targets.map((t: { refId: string }) => t.refId);
      assert.equal(new Set(refs).size, refs.length, `${at}: refIds repeat`);
      for (const t of p.targets) assert.ok(typeof t.refId === 'string' && typeof t.expr === 'string' && t.expr, `${at}: target`);
    }
  });
});

/** PROMQL_WORDS: PromQL's own words (aggregations, keywords), which are not metric names. */
const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset']);

/**
 * metricNames: the metric names a PromQL expression (or a Grafana label_values()) selects:
 * identifiers that are not in a label matcher, a string, a range, a by/without list, a
 * function call's name, or PromQL's own words; label_values(m, label)'s label is dropped.
 */
export function metricNames(expr: string): string[] {
  let e = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '');
  e = e.replace(/label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*[a-zA-Z_]+\s*\)/g, '$1');
  const out: string[] = [];
  for (const m of e.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    if (m[2] || PROMQL_WORDS.has(m[1]) || /^\d/.test(m[1])) continue;
    if (/^\$/.test(e.slice(m.index! - 1, m.index))) continue;
    out.push(m[1]);
  }
  return out;
}
