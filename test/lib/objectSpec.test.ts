import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CollectionLoadError } from '../../kernel/loadCollection.js';
import { Kernel } from '../../kernel/kernel.js';
import type { MapInfo } from '../../uapi/info.js';
import { Errno } from '../../uapi/errno.js';
import { ProgType } from '../../uapi/progType.js';
import { openObject } from '../../lib/objectSpec.js';
import { REPO_ROOT } from '../support/paths.js';

const OBJ = join(REPO_ROOT, 'bpf', 'xdp_stats.o');

describe('lib: openObject and ObjectSpec', () => {
  it('lists the programs, maps and globals of xdp_stats.o as its C source declares them', () => {
    const o = openObject(OBJ);
    assert.equal(o.name, 'xdp_stats');
    assert.equal(o.license, 'GPL');
    assert.deepEqual(o.programs, [{ name: 'xdp_stats', section: 'xdp', type: ProgType.BPF_PROG_TYPE_XDP, typeName: 'xdp' }]);
    assert.deepEqual(
      o.maps.map((m) => [m.name, m.spec.maxEntries]),
      [
        ['xdp_stat.rodata', 1],
        ['proto_stats', 64],
        ['size_hist', 16],
        ['last_seen', 4096],
        ['sampled', 1],
      ],
    );
    // const volatile __u32 sample_every = 64; const volatile __u8 drop_proto = 0;
    assert.deepEqual(
      o.globals.map((g) => [g.name, g.section, g.size, g.value]),
      [
        ['sample_every', '.rodata', 4, 64n],
        ['drop_proto', '.rodata', 1, 0n],
      ],
    );
  });

  it('opens bytes as it opens a path, and set changes a knob before load (a bad name or value is refused)', () => {
    const o = openObject(readFileSync(OBJ), { name: 'xdp_stats.o', set: { sample_every: 8 } });
    o.set('drop_proto', 17);
    assert.deepEqual(
      o.globals.map((g) => g.value),
      [8n, 17n],
    );
    assert.throws(() => o.set('no_such_knob', 1), /set no_such_knob: no global variable of that name/);
    assert.throws(() => o.set('drop_proto', 256), /does not fit 1 byte/);
    assert.deepEqual(
      o.globals.map((g) => g.value),
      [8n, 17n],
    );
  });

  it('setMaxEntries changes the size BPF_MAP_CREATE gets (the door reports it back)', () => {
    const o = openObject(OBJ).setMaxEntries('last_seen', 8);
    const kernel = new Kernel();
    const coll = o.load({ kernel });
    const a = { bpf_fd: coll.maps.last_seen.fd, info: undefined as MapInfo | undefined };
    assert.equal(kernel.bpf('BPF_OBJ_GET_INFO_BY_FD', a), 0);
    assert.equal(a.info!.max_entries, 8);
    assert.equal(coll.maps.proto_stats.spec.maxEntries, 64);
    coll.close();
    assert.throws(() => o.setMaxEntries('nope', 1), /has no map nope/);
  });

  it('setProgramType loads a program as another type: as a socket filter xdp_stats reads a context it may not', () => {
    const o = openObject(OBJ).setProgramType('xdp_stats', 'socket');
    assert.equal(o.programs[0].type, ProgType.BPF_PROG_TYPE_SOCKET_FILTER);
    assert.throws(
      () => o.load(),
      (e: unknown) => e instanceof CollectionLoadError && e.errno === Errno.EACCES && /load program xdp_stats/.test(e.message),
    );
    assert.throws(() => o.setProgramType('xdp_stats', 'nonsense'), /unrecognized program type nonsense/);
  });

  it('a missing file is one line naming it', () => {
    assert.throws(() => openObject('/nonexistent/x.o'), /^Error: \/nonexistent\/x.o: no such file$|\/nonexistent\/x.o: no such file/);
  });
});
