import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCollection } from '../../elf/collection.js';
import { Kernel } from '../../kernel/kernel.js';
import { loadCollection } from '../../kernel/loadCollection.js';
import { Errno } from '../../uapi/errno.js';
import { AttachType } from '../../uapi/progType.js';
import { REPO_ROOT } from '../support/paths.js';

/**
 * A DEVMAP entry with a program of its own (struct bpf_devmap_val), through the bpf() door as
 * the kernel's devmap takes it (kernel/bpf/devmap.c, __dev_map_alloc_node): the program fd
 * becomes the program's id in what userspace reads back, the entry holds the program, and only
 * an XDP program loaded for BPF_XDP_DEVMAP is taken (libbpf loads `SEC("xdp/devmap")` so).
 */
describe('bpf(): a DEVMAP entry with its own program', () => {
  const load = () => {
    const k = new Kernel({ ncpus: 1 });
    const l = loadCollection(k.process, readCollection(readFileSync(join(REPO_ROOT, 'bpf/live.o')), { name: 'live.o' }));
    return { k, l, map: l.maps.get('ports_prog')!, mark: l.programs.get('devmap_mark')!, plain: l.programs.get('xdp_action')! };
  };
  const u32s = (...v: number[]) => new Uint8Array(new Uint32Array(v).buffer);
  const key0 = u32s(0);

  it('xdp/devmap programs are loaded for BPF_XDP_DEVMAP (and may read egress_ifindex); others are not', () => {
    const { k, mark, plain, l } = load();
    assert.equal(k.process.progOf(mark).expectedAttachType, AttachType.BPF_XDP_DEVMAP);
    assert.equal(k.process.progOf(plain).expectedAttachType, 0);
    l.close();
  });

  it('the fd becomes the id in what userspace reads, and the entry holds the program until it is replaced', () => {
    const { k, l, map, mark } = load();
    const prog = k.process.progOf(mark);
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: map, key: key0, value: u32s(7, mark), flags: 0 }), 0);
    const value = new Uint8Array(8);
    assert.equal(k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: map, key: key0, value }), 0);
    assert.deepEqual([...new Uint32Array(value.buffer)], [7, prog.id]);
    // the program's fd closed: the entry still holds it, findable by id
    k.process.close(mark);
    const fd = k.bpf('BPF_PROG_GET_FD_BY_ID', { prog_id: prog.id });
    assert.ok(fd > 0, `the program is held by the entry (got ${fd})`);
    k.process.close(fd);
    // the entry deleted: the last reference goes, and with it the program
    assert.equal(k.bpf('BPF_MAP_DELETE_ELEM', { map_fd: map, key: key0 }), 0);
    assert.equal(k.bpf('BPF_PROG_GET_FD_BY_ID', { prog_id: prog.id }), -Errno.ENOENT);
    l.close();
  });

  it('EINVAL for a program not loaded for BPF_XDP_DEVMAP, and for a program with no ifindex', () => {
    const { k, l, map, mark, plain } = load();
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: map, key: key0, value: u32s(7, plain), flags: 0 }), -Errno.EINVAL);
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: map, key: key0, value: u32s(0, mark), flags: 0 }), -Errno.EINVAL);
    // a failed update leaves the map as it was: no entry
    assert.equal(k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: map, key: key0, value: new Uint8Array(8) }), -Errno.ENOENT);
    l.close();
  });
});
