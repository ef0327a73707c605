import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCapture } from '../../pcaps/open.js';
import { PcapWriter } from '../../pcaps/pcapWriter.js';
import { PcapngWriter } from '../../pcaps/pcapngWriter.js';
import type { CaptureReader } from '../../pcaps/record.js';
import { REPO_ROOT } from '../support/paths.js';

const SAMPLE = join(REPO_ROOT, 'pcaps', 'sample.pcap');

function records(r: CaptureReader): string[] {
  const out: string[] = [];
  for (let p = r.next(); p && out.length < 100_000; p = r.next())
    out.push(`${p.tsSec}.${p.tsNsec} ${p.origLen} ${Buffer.from(p.data).toString('hex')}`);
  return out;
}

/** exited: resolves with a child's exit code, or rejects after `ms`. */
const exited = (c: ChildProcess, ms = 20_000) =>
  new Promise<number | null>((ok, fail) => {
    const t = setTimeout(() => fail(new Error(`child ${c.pid} still running after ${ms} ms`)), ms);
    c.on('exit', (code) => (clearTimeout(t), ok(code)));
  });

describe('pcaps: captures read as streams (FIFOs, pipes)', function () {
  this.timeout(60_000);
  let dir: string;
  const children: ChildProcess[] = [];
  /** writer starts `sh -c script` (its $1 the sample, $2 the FIFO), which feeds the FIFO. */
  const writer = (script: string, fifo: string) => {
    const c = spawn('sh', ['-c', script, 'sh', SAMPLE, fifo], { stdio: 'ignore' });
    children.push(c);
    return c;
  };
  const mkfifo = (name: string) => {
    const p = join(dir, name);
    const r = spawnSync('mkfifo', [p]);
    assert.equal(r.status, 0, String(r.stderr));
    return p;
  };
  before(() => (dir = mkdtempSync(join(tmpdir(), 'bpfbox-streams-'))));
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('a FIFO: no seek, no size, the same records as the file (written in pieces, so reads come back short)', async () => {
    const fifo = mkfifo('in.fifo');
    // the first 1000 bytes end mid-record; the rest comes later
    const w = writer('exec > "$2"; head -c 1000 "$1"; sleep 0.2; tail -c +1001 "$1"', fifo);
    const r = openCapture(fifo);
    assert.equal(r.bytes.stream, true);
    assert.equal(r.size, 0);
    const got = records(r);
    r.close();
    assert.equal(await exited(w), 0);
    const want = records(openCapture(SAMPLE));
    assert.equal(want.length, 1000);
    assert.deepEqual(got, want);
  });

  it('a pcapng through a FIFO: the same records as the file', async () => {
    const png = join(dir, 'sample.pcapng');
    const w = new PcapngWriter(png);
    const r0 = openCapture(SAMPLE);
    for (let p = r0.next(); p; p = r0.next()) w.write(p);
    r0.close();
    w.close();
    const fifo = mkfifo('png.fifo');
    const c = spawn('sh', ['-c', 'exec cat "$1" > "$2"', 'sh', png, fifo], { stdio: 'ignore' });
    children.push(c);
    const r = openCapture(fifo);
    assert.equal(r.format, 'pcapng');
    const got = records(r);
    r.close();
    assert.equal(await exited(c), 0);
    assert.deepEqual(got, records(openCapture(png)));
    assert.equal(got.length, 1000);
  });

  it('a FIFO that ends mid-record: the complete records, and the cut named', async () => {
    const fifo = mkfifo('cut.fifo');
    const w = writer('exec > "$2"; head -c 5000 "$1"', fifo);
    const r = openCapture(fifo);
    const got = records(r);
    r.close();
    assert.equal(await exited(w), 0);
    const want = records(openCapture(SAMPLE));
    assert.ok(got.length > 0 && got.length < want.length);
    assert.deepEqual(got, want.slice(0, got.length));
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0], new RegExp(`record ${got.length} is cut off`));
  });

  it('a writer into a FIFO: the bytes a reader gets are the bytes a file gets (no fsync on a pipe)', async () => {
    const fifo = mkfifo('out.fifo');
    const copy = join(dir, 'copy.pcap');
    const c = spawn('sh', ['-c', 'exec cat "$1" > "$2"', 'sh', fifo, copy], { stdio: 'ignore' });
    children.push(c);
    const write = (path: string) => {
      const w = new PcapWriter(path, { nanosecond: true });
      const r = openCapture(SAMPLE);
      for (let p = r.next(); p; p = r.next()) w.write(p);
      r.close();
      w.close();
    };
    write(fifo);
    assert.equal(await exited(c), 0);
    write(join(dir, 'file.pcap'));
    assert.deepEqual(readFileSync(copy), readFileSync(join(dir, 'file.pcap')));
  });
});
