import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePinned } from '../../appliance/bpffs/pinFile.js';
import { bpfbox, startServe, tempState } from './cliSupport.js';

describe('pins shared by processes', function () {
  this.timeout(120_000);

  it('one process pins and updates a map and exits; a second reads the values by path', () => {
    const state = tempState();
    assert.equal(
      bpfbox(state, 'map', 'create', '/sys/fs/bpf/counts', 'type', 'hash', 'key', '4', 'value', '8', 'entries', '16', 'name', 'counts')
        .code,
      0,
    );
    assert.equal(
      bpfbox(
        state,
        'map',
        'update',
        'pinned',
        '/sys/fs/bpf/counts',
        'key',
        '1',
        '0',
        '0',
        '0',
        'value',
        '0x2a',
        '0',
        '0',
        '0',
        '0',
        '0',
        '0',
        '0',
      ).code,
      0,
    );
    const r = bpfbox(state, '-j', 'map', 'lookup', 'pinned', '/sys/fs/bpf/counts', 'key', '1', '0', '0', '0');
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out).value, ['0x2a', '0x00', '0x00', '0x00', '0x00', '0x00', '0x00', '0x00']);
  });

  it('while a long-running owner is alive, a third process updates through it and the owner sees the change', async () => {
    const state = tempState();
    bpfbox(state, 'map', 'create', '/sys/fs/bpf/live', 'type', 'array', 'key', '4', 'value', '4', 'entries', '4', 'name', 'live');
    const owner = await startServe(state);
    try {
      const file = () => parsePinned('live', readFileSync(join(state, 'live'), 'utf8'));
      assert.equal(file().owner?.pid, owner.pid, 'the pin records its live owner');
      const up = bpfbox(state, 'map', 'update', 'pinned', '/sys/fs/bpf/live', 'key', '2', '0', '0', '0', 'value', '9', '0', '0', '0');
      assert.equal(up.code, 0, up.err);
      // the owner answers with its live map: the value is there without any file round trip
      const look = bpfbox(state, '-j', 'map', 'lookup', 'pinned', '/sys/fs/bpf/live', 'key', '2', '0', '0', '0');
      assert.deepEqual(JSON.parse(look.out).value, ['0x09', '0x00', '0x00', '0x00']);
      // errors come back with the kernel's errno through the socket
      const bad = bpfbox(state, 'map', 'update', 'pinned', '/sys/fs/bpf/live', 'key', '9', '0', '0', '0', 'value', '1', '0', '0', '0');
      assert.equal(bad.code, 256 - 7);
      assert.match(bad.err, /Error: update failed: Argument list too long/);
      // and the owner wrote the change through to the pin
      const f = file();
      assert.ok(f.kind === 'map');
      assert.deepEqual(
        f.entries!.find(([k]) => k === '02000000'),
        ['02000000', '09000000'],
      );
    } finally {
      owner.kill('SIGTERM');
      await new Promise((ok) => owner.once('exit', ok));
    }
    assert.equal(parsePinned('live', readFileSync(join(state, 'live'), 'utf8')).owner, undefined, 'a clean exit gives the pin up');
    const after = bpfbox(state, '-j', 'map', 'lookup', 'pinned', '/sys/fs/bpf/live', 'key', '2', '0', '0', '0');
    assert.deepEqual(JSON.parse(after.out).value, ['0x09', '0x00', '0x00', '0x00']);
  });

  it('SIGKILL in the middle of updates never leaves a pin unreadable or half-written', async () => {
    const state = tempState();
    const writer = join(import.meta.dirname, 'crashWriter.js');
    let last = 0;
    for (let round = 0; round < 12; round++) {
      const child = spawn(process.execPath, [writer, state], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((ok) => child.stdout!.once('data', () => ok()));
      await new Promise((ok) => setTimeout(ok, 20 + ((round * 37) % 90)));
      child.kill('SIGKILL');
      await new Promise((ok) => child.once('exit', ok));
      const pin = parsePinned('crash', readFileSync(join(state, 'crash'), 'utf8'));
      assert.ok(pin.kind === 'map' && pin.entries!.length === 64);
      const values = new Set(pin.entries!.map(([, v]) => v));
      assert.equal(values.size, 1, `round ${round}: a consistent snapshot, all 64 values from one update`);
      const n = Number(Buffer.from([...values][0], 'hex').readBigUInt64LE());
      assert.ok(n >= last, `round ${round}: ${n} went back from ${last}`);
      last = n;
    }
    assert.ok(last > 12, `the writer made progress (${last} rounds written)`);
  });
});
