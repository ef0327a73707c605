import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { bpfbox, tempState } from '../appliance/cliSupport.js';
import { kernelBpffs } from '../support/bpffs.js';

/**
 * Differential: each script runs once through the real bpftool against the running kernel
 * and once through `bpfbox`, at the same /sys/fs/bpf paths; their outputs and exit codes must
 * match. Normalised: map ids, memlock sizes, and the order of hash map elements (the kernel
 * seeds its hash randomly).
 */
type Script = readonly (readonly string[])[];

const DIR = `/sys/fs/bpf/bpfbox_diff_${process.pid}`;
const P = (n: string) => `${DIR}/${n}`;

const SCRIPTS: Record<string, Script> = {
  'array: E2BIG out of range, EEXIST with noexist, EINVAL delete, ENOENT lookup, get-next order, freeze': [
    ['map', 'create', P('arr'), 'type', 'array', 'key', '4', 'value', '8', 'entries', '4', 'name', 'arr'],
    ['map', 'update', 'pinned', P('arr'), 'key', '9', '0', '0', '0', 'value', '1', '0', '0', '0', '0', '0', '0', '0'],
    ['map', 'update', 'pinned', P('arr'), 'key', '1', '0', '0', '0', 'value', '0x11', '0x22', '0', '0', '0', '0', '0', '0'],
    ['map', 'update', 'pinned', P('arr'), 'key', '1', '0', '0', '0', 'value', '1', '0', '0', '0', '0', '0', '0', '0', 'noexist'],
    ['map', 'delete', 'pinned', P('arr'), 'key', '1', '0', '0', '0'],
    ['map', 'lookup', 'pinned', P('arr'), 'key', '9', '0', '0', '0'],
    ['map', 'lookup', 'pinned', P('arr'), 'key', 'hex', '01', '00', '00', '00'],
    ['-j', 'map', 'lookup', 'pinned', P('arr'), 'key', '1', '0', '0', '0'],
    ['map', 'getnext', 'pinned', P('arr')],
    ['map', 'getnext', 'pinned', P('arr'), 'key', '2', '0', '0', '0'],
    ['map', 'getnext', 'pinned', P('arr'), 'key', '3', '0', '0', '0'],
    ['map', 'getnext', 'pinned', P('arr'), 'key', '9', '0', '0', '0'],
    ['map', 'update', 'pinned', P('arr'), 'key', '1', '0', '0'],
    ['map', 'dump', 'pinned', P('arr')],
    ['-j', 'map', 'dump', 'pinned', P('arr')],
    ['map', 'freeze', 'pinned', P('arr')],
    ['map', 'update', 'pinned', P('arr'), 'key', '1', '0', '0', '0', 'value', '1', '0', '0', '0', '0', '0', '0', '0'],
    ['map', 'freeze', 'pinned', P('arr')],
    ['-f', 'map', 'show', 'pinned', P('arr')],
    ['-j', '-f', 'map', 'show', 'pinned', P('arr')],
  ],
  'hash: E2BIG when full, flags, delete of a missing key, get-next from a missing key, multi-line values': [
    ['map', 'create', P('h'), 'type', 'hash', 'key', '4', 'value', '4', 'entries', '2', 'name', 'h'],
    ['map', 'update', 'pinned', P('h'), 'key', '1', '0', '0', '0', 'value', '1', '0', '0', '0'],
    ['map', 'update', 'pinned', P('h'), 'key', '2', '0', '0', '0', 'value', '2', '0', '0', '0'],
    ['map', 'update', 'pinned', P('h'), 'key', '3', '0', '0', '0', 'value', '3', '0', '0', '0'],
    ['map', 'update', 'pinned', P('h'), 'key', '2', '0', '0', '0', 'value', '9', '0', '0', '0', 'noexist'],
    ['map', 'update', 'pinned', P('h'), 'key', '5', '0', '0', '0', 'value', '9', '0', '0', '0', 'exist'],
    ['map', 'update', 'pinned', P('h'), 'key', '2', '0', '0', '0', 'value', '9', '0', '0', '0', 'exist'],
    ['-j', 'map', 'update', 'pinned', P('h'), 'key', '2', '0', '0', '0', 'value', '9', '0', '0', '0', 'noexist'],
    ['map', 'delete', 'pinned', P('h'), 'key', '7', '0', '0', '0'],
    ['map', 'dump', 'pinned', P('h')],
    ['map', 'create', P('big'), 'type', 'hash', 'key', '8', 'value', '20', 'entries', '2', 'name', 'big'],
    [
      'map',
      'update',
      'pinned',
      P('big'),
      'key',
      'hex',
      '01',
      '02',
      '03',
      '04',
      '05',
      '06',
      '07',
      '08',
      'value',
      ...Array.from({ length: 20 }, (_, i) => String(i + 1)),
    ],
    ['map', 'dump', 'pinned', P('big')],
    ['-f', 'map', 'show', 'pinned', P('h')],
  ],
  'LPM trie: BPF_F_NO_PREALLOC required, longest match, post-order walk, ENOSPC when full': [
    ['map', 'create', P('lpm'), 'type', 'lpm_trie', 'key', '8', 'value', '4', 'entries', '10', 'name', 'lpm'],
    ['map', 'create', P('lpm'), 'type', 'lpm_trie', 'key', '8', 'value', '4', 'entries', '3', 'name', 'lpm', 'flags', '1'],
    ['map', 'update', 'pinned', P('lpm'), 'key', '8', '0', '0', '0', '10', '0', '0', '0', 'value', '1', '0', '0', '0'],
    ['map', 'update', 'pinned', P('lpm'), 'key', '24', '0', '0', '0', '10', '1', '2', '0', 'value', '2', '0', '0', '0'],
    ['map', 'update', 'pinned', P('lpm'), 'key', '16', '0', '0', '0', '10', '1', '0', '0', 'value', '3', '0', '0', '0'],
    ['map', 'update', 'pinned', P('lpm'), 'key', '33', '0', '0', '0', '10', '1', '2', '0', 'value', '2', '0', '0', '0'],
    ['map', 'update', 'pinned', P('lpm'), 'key', '28', '0', '0', '0', '10', '1', '2', '0', 'value', '2', '0', '0', '0'],
    ['map', 'update', 'pinned', P('lpm'), 'key', '8', '0', '0', '0', '10', '0', '0', '0', 'value', '5', '0', '0', '0', 'noexist'],
    ['map', 'lookup', 'pinned', P('lpm'), 'key', '32', '0', '0', '0', '10', '1', '2', '3'],
    ['map', 'lookup', 'pinned', P('lpm'), 'key', '32', '0', '0', '0', '10', '1', '9', '3'],
    ['map', 'lookup', 'pinned', P('lpm'), 'key', '32', '0', '0', '0', '10', '9', '2', '3'],
    ['map', 'lookup', 'pinned', P('lpm'), 'key', '32', '0', '0', '0', '11', '9', '2', '3'],
    ['map', 'dump', 'pinned', P('lpm')],
    ['map', 'delete', 'pinned', P('lpm'), 'key', '16', '0', '0', '0', '10', '1', '0', '0'],
    ['map', 'delete', 'pinned', P('lpm'), 'key', '16', '0', '0', '0', '10', '1', '0', '0'],
    ['map', 'lookup', 'pinned', P('lpm'), 'key', '32', '0', '0', '0', '10', '1', '9', '3'],
    ['-j', 'map', 'dump', 'pinned', P('lpm')],
  ],
  'queue and stack: push until E2BIG, pop order, empty map': [
    ['map', 'create', P('q'), 'type', 'queue', 'value', '4', 'entries', '2', 'name', 'q'],
    ['map', 'push', 'pinned', P('q'), 'value', '1', '0', '0', '0'],
    ['map', 'push', 'pinned', P('q'), 'value', '2', '0', '0', '0'],
    ['map', 'push', 'pinned', P('q'), 'value', '3', '0', '0', '0'],
    ['map', 'peek', 'pinned', P('q')],
    ['-j', 'map', 'peek', 'pinned', P('q')],
    ['map', 'pop', 'pinned', P('q')],
    ['map', 'dequeue', 'pinned', P('q')],
    ['map', 'pop', 'pinned', P('q')],
    ['map', 'create', P('s'), 'type', 'stack', 'value', '4', 'entries', '3', 'name', 's'],
    ['map', 'push', 'pinned', P('s'), 'value', '1', '0', '0', '0'],
    ['map', 'push', 'pinned', P('s'), 'value', '2', '0', '0', '0'],
    ['map', 'pop', 'pinned', P('s')],
    ['map', 'dump', 'pinned', P('s')],
    ['map', 'show', 'pinned', P('s')],
  ],
  'per-CPU array: one value per possible CPU': [
    ['map', 'create', P('pa'), 'type', 'percpu_array', 'key', '4', 'value', '4', 'entries', '2', 'name', 'pa'],
    ['map', 'update', 'pinned', P('pa'), 'key', '0', '0', '0', '0', 'value', '1', '2', '3', '4'],
    ['map', 'lookup', 'pinned', P('pa'), 'key', '0', '0', '0', '0'],
    ['-j', 'map', 'lookup', 'pinned', P('pa'), 'key', '0', '0', '0', '0'],
    ['map', 'dump', 'pinned', P('pa')],
    ['-j', 'map', 'dump', 'pinned', P('pa')],
  ],
  'creation errors: EINVAL for zero entries, zero keys, unknown flags, wrong key size': [
    ['map', 'create', P('x1'), 'type', 'hash', 'key', '4', 'value', '4', 'entries', '0', 'name', 'x'],
    ['map', 'create', P('x2'), 'type', 'hash', 'key', '0', 'value', '4', 'entries', '4', 'name', 'x'],
    ['map', 'create', P('x3'), 'type', 'hash', 'key', '4', 'value', '4', 'entries', '4', 'name', 'x', 'flags', '0x80000000'],
    ['map', 'create', P('x4'), 'type', 'array', 'key', '8', 'value', '4', 'entries', '4', 'name', 'x'],
    ['map', 'create', P('x5'), 'type', 'queue', 'key', '4', 'value', '4', 'entries', '4', 'name', 'x'],
    ['map', 'create', P('x6'), 'type', 'ringbuf', 'key', '0', 'value', '0', 'entries', '5000', 'name', 'x'],
    ['map', 'create', P('x7'), 'type', 'array', 'key', '4', 'value', '8', 'entries', '4000000000', 'name', 'x'],
    ['map', 'create', P('x8'), 'type', 'hash', 'key', '4', 'value', '8', 'entries', '4000000000', 'name', 'x'],
    ['map', 'create', P('x9'), 'type', 'lpm_trie', 'key', '300', 'value', '4', 'entries', '4', 'name', 'x', 'flags', '1'],
    ['map', 'create', P('x10'), 'type', 'bogus', 'key', '4', 'value', '4', 'entries', '4', 'name', 'x'],
  ],
  'cgroup array: created with 4-byte keys and values only; no fd is a cgroup (EBADF); lookups ENOTSUPP': [
    ['map', 'create', P('cg0'), 'type', 'cgroup_array', 'key', '4', 'value', '8', 'entries', '4', 'name', 'cg'],
    ['map', 'create', P('cg'), 'type', 'cgroup_array', 'key', '4', 'value', '4', 'entries', '4', 'name', 'cg'],
    ['map', 'update', 'pinned', P('cg'), 'key', '0', '0', '0', '0', 'value', '0', '0', '0', '0'],
    ['map', 'lookup', 'pinned', P('cg'), 'key', '0', '0', '0', '0'],
    ['map', 'getnext', 'pinned', P('cg')],
    ['-f', 'map', 'show', 'pinned', P('cg')],
  ],
};

/** normalise hides what legitimately differs: ids, memlock, and hash element order. */
function normalise(text: string, sortLines: boolean): string {
  let t = text
    .replace(/^\d+: /gm, 'ID: ')
    .replace(/"id":\d+/g, '"id":ID')
    .replace(/memlock \d+B/g, 'memlock NB')
    .replace(/"bytes_memlock":\d+/g, '"bytes_memlock":N');
  if (sortLines) t = t.split('\n').sort().join('\n');
  return t;
}

function sortJsonArray(text: string): string {
  try {
    const v = JSON.parse(text);
    return Array.isArray(v) ? JSON.stringify(v.map((x) => JSON.stringify(x)).sort()) : text;
  } catch {
    return text;
  }
}

describe('differential: bpftool on the kernel and bpfbox give the same map results', function () {
  this.timeout(120_000);
  let why = '';
  before(function () {
    const bt = spawnSync('bpftool', ['version'], { encoding: 'utf8' });
    if (bt.error || bt.status !== 0) why = 'bpftool is not installed (apt-get install bpftool)';
    else if (process.getuid?.() !== 0) why = 'not root';
    else if ((why = kernelBpffs())) {
      /* said why */
    } else {
      const probe = spawnSync(
        'bpftool',
        ['map', 'create', `${DIR}_probe`, 'type', 'array', 'key', '4', 'value', '4', 'entries', '1', 'name', 'probe'],
        { encoding: 'utf8' },
      );
      rmSync(`${DIR}_probe`, { force: true });
      if (probe.status !== 0) why = `the kernel refuses BPF here: ${probe.stderr.trim()}`;
    }
    if (why) {
      console.log(`  bpftool differential: SKIPPED: ${why}`);
      this.skip();
    }
  });

  for (const [name, script] of Object.entries(SCRIPTS)) {
    it(name, () => {
      const state = tempState();
      rmSync(DIR, { recursive: true, force: true });
      spawnSync('mkdir', ['-p', DIR]);
      bpfbox(state, 'map', 'show'); // creates the state directory
      spawnSync('mkdir', ['-p', `${state}${DIR.slice('/sys/fs/bpf'.length)}`]);
      try {
        for (const cmd of script) {
          const k = spawnSync('bpftool', cmd, { encoding: 'utf8' });
          const b = bpfbox(state, ...cmd);
          const hashy = name.startsWith('hash') && cmd.includes('dump');
          const kOut = hashy && cmd[0] === '-j' ? sortJsonArray(k.stdout.trim()) : k.stdout.trim();
          const bOut = hashy && cmd[0] === '-j' ? sortJsonArray(b.out.trim()) : b.out.trim();
          const what = `bpftool ${cmd.join(' ')}`;
          assert.equal(normalise(bOut, hashy), normalise(kOut, hashy), `${what}: stdout`);
          assert.equal(b.err.trim(), k.stderr.trim(), `${what}: stderr`);
          assert.equal(b.code, k.status, `${what}: exit code`);
        }
      } finally {
        rmSync(DIR, { recursive: true, force: true });
      }
    });
  }
});
