import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../appliance/config/config.js';
import { labelDecoder } from '../../appliance/service/metrics/decoders.js';
import { REPO_ROOT } from '../support/paths.js';

describe('config: schema, errors, examples', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'bpfbox-config-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const refuses = (text: string, re: RegExp) => {
    const p = write('c.yaml', text);
    assert.throws(
      () => loadConfig(p),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
      `expected ${re}`,
    );
  };

  it('every example in config/ validates', () => {
    const examples = readdirSync(join(REPO_ROOT, 'config')).filter((f) => f.endsWith('.yaml'));
    assert.ok(examples.length >= 2);
    for (const f of examples) loadConfig(join(REPO_ROOT, 'config', f));
  });

  it('errors name the file, the line and column, the path and the reason', () => {
    refuses('programs:\n  - name: a\n    obj: x.o\n    type: xpd\n', /c\.yaml:4:11: programs\[0\]\.type: expected one of xdp, socket, tc/);
    refuses('programs:\n  - name: a\n    obj: x.o\n    colour: red\n', /c\.yaml:4:13: programs\[0\]\.colour: unknown key/);
    refuses('programs:\n  - name: a\n', /programs\[0\]: missing "obj"/);
    refuses('workers: 0\nprograms: [{name: a, obj: x.o}]\n', /c\.yaml:1:10: workers: must be >= 1/);
    refuses(
      'programs: [{name: a, obj: x.o}]\nsources: [{program: b, captures: [x.pcap]}]\n',
      /sources\[0\]\.program: no program named b \(programs: a\)/,
    );
    refuses(
      'programs: [{name: a, obj: x.o}]\nsources: [{program: a, captures: [x.pcap], mode: rate}]\n',
      /sources\[0\]\.mode: mode rate needs a rate/,
    );
    refuses('programs: [{name: a, obj: x.o}, {name: a, obj: y.o}]\n', /programs\[1\]\.name: a second program named a/);
    refuses(
      'programs: [{name: a, obj: x.o}]\nexporter:\n  histograms:\n    - {name: h, help: h, map: m, bucket_type: exp2, bucket_min: 5, bucket_max: 2}\n',
      /exporter\.histograms\[0\]\.bucket_max: 2 is below bucket_min 5/,
    );
    refuses('programs: [{name: a, obj: x.o\n', /c\.yaml:\d+:\d+: /);
    refuses(
      'programs:\n  - name: a\n    obj: x.o\n    maps:\n      blocked:\n        entries:\n          - {key: "00"}\n',
      /programs\[0\]\.maps\.blocked\.entries\[0\]: missing "value"/,
    );
  });

  it('paths in a config are taken relative to it', () => {
    const p = write('rel.yaml', 'programs: [{name: a, obj: ../x.o}]\nsources: [{program: a, captures: [in.pcap]}]\n');
    const c = loadConfig(p);
    assert.equal(c.programs[0].obj, join(dir, '..', 'x.o'));
    assert.equal(c.sources![0].captures[0], join(dir, 'in.pcap'));
  });
});

describe('metrics: label decoders (ebpf_exporter style)', () => {
  const b = (...x: number[]) => Uint8Array.from(x);
  it('uint, inet_ip, string, hex, static_map, regexp', () => {
    assert.equal(labelDecoder({ name: 'x', size: 2 })(b(0x34, 0x12)), String(0x1234));
    assert.equal(
      labelDecoder({ name: 'x', size: 8, decoders: [{ name: 'uint' }] })(b(1, 0, 0, 0, 0, 0, 0, 0x80)),
      (2n ** 63n + 1n).toString(),
    );
    assert.equal(labelDecoder({ name: 'x', size: 4, decoders: [{ name: 'inet_ip' }] })(b(10, 1, 2, 3)), '10.1.2.3');
    const v6 = b(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
    assert.equal(labelDecoder({ name: 'x', size: 16, decoders: [{ name: 'inet_ip' }] })(v6), '2001:db8::1');
    assert.equal(
      labelDecoder({ name: 'x', size: 16, decoders: [{ name: 'inet_ip' }] })(b(0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2)),
      'fe80::1:0:0:2',
    );
    assert.equal(labelDecoder({ name: 'x', size: 6, decoders: [{ name: 'string' }] })(b(0x65, 0x74, 0x68, 0x30, 0, 0x41)), 'eth0');
    assert.equal(labelDecoder({ name: 'x', size: 2, decoders: [{ name: 'hex' }] })(b(0xbe, 0xef)), 'beef');
    const proto = labelDecoder({
      name: 'p',
      size: 1,
      decoders: [{ name: 'uint' }, { name: 'static_map', static_map: { 6: 'tcp', 17: 'udp' } }],
    });
    assert.equal(proto(b(6)), 'tcp');
    assert.equal(proto(b(1)), null, 'unknown values drop the series');
    assert.equal(labelDecoder({ name: 'p', size: 1, decoders: [{ name: 'static_map', static_map: {}, allow_unknown: true }] })(b(1)), '1');
    const re = labelDecoder({ name: 'i', size: 6, decoders: [{ name: 'string' }, { name: 'regexp', regexps: ['^eth'] }] });
    assert.equal(re(b(0x65, 0x74, 0x68, 0x31, 0, 0)), 'eth1');
    assert.equal(re(b(0x6c, 0x6f, 0, 0, 0, 0)), null);
  });
  it('refuses chains that cannot work on the label', () => {
    assert.throws(
      () => labelDecoder({ name: 'x', size: 3, decoders: [{ name: 'inet_ip' }] }),
      /inet_ip takes 4 or 16 bytes, the label has 3/,
    );
    assert.throws(() => labelDecoder({ name: 'x', size: 12 }), /uint takes at most 8 bytes/);
    assert.throws(
      () => labelDecoder({ name: 'x', size: 4, decoders: [{ name: 'string' }, { name: 'uint' }] }),
      /uint decodes key bytes, so it must come first/,
    );
  });
});

describe('config: the Grafana dashboard', () => {
  it("is dashboard JSON whose queries name only series bpfbox exports (pipeline, or config/appliance.yaml's exporter)", async () => {
    const { readFileSync } = await import('node:fs');
    const { PipelineMetrics } = await import('../../appliance/service/metrics/pipelineMetrics.js');
    const dash = JSON.parse(readFileSync(join(REPO_ROOT, 'config', 'grafana-dashboard.json'), 'utf8'));
    const cfg = loadConfig(join(REPO_ROOT, 'config', 'appliance.yaml'));
    const names = new Set<string>();
    for (const m of await new PipelineMetrics().registry.getMetricsAsJSON()) names.add(m.name);
    for (const c of cfg.exporter?.counters ?? []) names.add(c.name);
    for (const g of cfg.exporter?.gauges ?? []) names.add(g.name);
    for (const h of cfg.exporter?.histograms ?? []) names.add(h.name);
    const exprs: string[] = dash.panels.flatMap((p: { targets: { expr: string }[] }) => p.targets.map((t) => t.expr));
    assert.ok(exprs.length >= 8);
    for (const e of exprs) {
      const used = [...e.matchAll(/\b((?:bpfbox|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1].replace(/_(bucket|sum|count)$/, ''));
      assert.ok(used.length, e);
      for (const u of used) assert.ok(names.has(u), `${u} in ${e} is not exported`);
    }
  });
});
