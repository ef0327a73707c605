import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';
import { CLI, bpfbox, tempState } from './cliSupport.js';

/**
 * Issue 22 item 13: `serve --config` keeps running when a looping source's capture is deleted
 * or replaced by a directory (a log line per failure, bpfbox_source_failures_total, a retry);
 * config mistakes found up front (an exporter name already taken, a pinmaps directory that
 * cannot be made) are one line and a non-zero exit.
 */

const XDP = join(REPO_ROOT, 'bpf', 'xdp_mtu.o');
const SAMPLE = join(REPO_ROOT, 'pcaps', 'sample.pcap');

/** waitFor polls `check` every 200 ms until it is true, for at most `ms`. */
async function waitFor(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('issue 22: serve --config when a source or the config fails', function () {
  this.timeout(120_000);
  let dir: string;
  let state: string;
  let serve: ChildProcess | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpfbox-srcfail-'));
    state = tempState();
  });
  after(() => {
    serve?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  });

  it('a looping source whose capture is deleted, then a directory, then back: logged, counted, retried; the service stays up', async () => {
    const capture = join(dir, 'loop.pcap');
    copyFileSync(SAMPLE, capture);
    const config = join(dir, 'loop.yaml');
    writeFileSync(
      config,
      `programs:\n  - name: a\n    obj: ${XDP}\nsources:\n  - program: a\n    captures: [${capture}]\n    mode: loop\n`,
    );
    const p = spawn(process.execPath, [CLI, 'serve', '--config', config, '--metrics-addr', '127.0.0.1:0'], {
      env: { ...process.env, BPFBOX_BPFFS: state },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    serve = p;
    let err = '';
    let exited: number | null | undefined;
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => (exited = code));
    await waitFor(() => /metrics on (\S+),/.test(err) || exited !== undefined, 60_000, 'serve to start');
    const url = /metrics on (\S+),/.exec(err)![1];
    const scrape = async () => (await fetch(url)).text();
    const series = (text: string, name: string) =>
      [...text.matchAll(new RegExp(`^${name}\\{[^}]*\\} (\\d+)`, 'gm'))].reduce((s, m) => s + Number(m[1]), 0);
    await waitFor(async () => series(await scrape(), 'bpfbox_packets_total') > 0, 30_000, 'packets');
    rmSync(capture);
    await waitFor(() => /no such file or directory/.test(err), 30_000, 'the missing capture logged');
    mkdirSync(capture);
    await waitFor(() => /is a directory/.test(err), 30_000, 'the directory logged');
    rmdirSync(capture);
    copyFileSync(SAMPLE, capture);
    const failedLines = err.split('\n').filter((l) => l.includes('failed:'));
    // the main thread finds the capture gone, or a worker reading its own window of it does (streamed replay)
    for (const l of failedLines)
      assert.match(
        l,
        /^source a:\S+loop\.pcap: failed: (capture \S+: (no such file or directory|is a directory) .*|replay worker \d+ \(cpu \d+\) failed: (ENOENT|EISDIR)\b.*)\(retry \d+ in \d+ s\)$/,
      );
    assert.doesNotMatch(err, /\n\s+at /, 'no stack');
    const text = await scrape();
    // one count per logged failure (a retry may fail between the two reads of the log)
    const counted = series(text, 'bpfbox_source_failures_total');
    assert.ok(
      counted >= failedLines.length && counted <= err.split('\n').filter((l) => l.includes('failed:')).length,
      `${counted} counted`,
    );
    // the capture back: the source runs again (after its backoff, at most 8 s here)
    const before = series(text, 'bpfbox_packets_total');
    await waitFor(async () => series(await scrape(), 'bpfbox_packets_total') > before, 40_000, 'packets again');
    assert.equal(exited, undefined, `serve exited: ${err}`);
    p.kill('SIGTERM');
    await waitFor(() => exited !== undefined, 20_000, 'serve to stop');
    serve = undefined;
  });

  it('an exporter name already taken is one line naming the entry (the service own series, or an earlier entry)', () => {
    const entry = (name: string) =>
      `    - name: ${name}\n      help: x\n      map: results\n      labels: [{name: slot, size: 4, decoders: [{name: uint}]}]\n`;
    for (const [first, line] of [
      ['bpfbox_packets_total', /exporter\.counters\[0\] \(bpfbox_packets_total\): the name is taken \(by the service's own series\)/],
      ['dup_total', /exporter\.counters\[1\] \(dup_total\): the name is taken \(by exporter\.counters\[0\]\)/],
    ] as const) {
      const config = join(dir, `dup-${first}.yaml`);
      writeFileSync(config, `programs:\n  - name: a\n    obj: ${XDP}\nexporter:\n  counters:\n${entry(first)}${entry('dup_total')}`);
      const r = bpfbox(state, 'serve', '--config', config, '--metrics-addr', '127.0.0.1:0');
      assert.equal(r.code, 1, r.err);
      const lines = r.err.trimEnd().split('\n');
      assert.equal(lines.length, 1, r.err);
      assert.match(lines[0], line);
    }
  });

  it('a pinmaps directory that cannot be made is one line naming programs[i].pinmaps', () => {
    const config = join(dir, 'pinmaps.yaml');
    writeFileSync(config, `programs:\n  - name: a\n    obj: ${XDP}\n    pinmaps: /sys/fs/bpf/no/such/dir\n`);
    const r = bpfbox(state, 'serve', '--config', config, '--metrics-addr', '127.0.0.1:0');
    assert.equal(r.code, 1, r.err);
    assert.equal(r.err.trimEnd(), `Error: ${config}: programs[0].pinmaps: /sys/fs/bpf/no/such/dir: No such file or directory`);
  });
});
