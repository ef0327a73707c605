import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FilePinStore } from '../../appliance/bpffs/filePinStore.js';
import { pinmapsName } from '../../appliance/bpffs/pinName.js';
import { Errno } from '../../uapi/errno.js';
import { Kernel } from '../../kernel/kernel.js';
import { MapType } from '../../uapi/mapType.js';
import { ProgType } from '../../uapi/progType.js';
import { encode } from '../../vm/decode.js';
import { R0, R1, exit, lddw, link, mov } from '../../vm/dsl.js';
import { Pseudo } from '../../vm/opcodes.js';
import { tempState } from './cliSupport.js';
import { le32 } from '../maps/support.js';

/** A "process": a Kernel over the shared state directory, as each bpfbox process has. */
function proc(dir: string): { k: Kernel; store: FilePinStore } {
  const store = new FilePinStore(dir);
  const k = new Kernel({ pins: store, allocId: store.allocId, onWrite: (o) => store.touched(o), ncpus: 2 });
  store.attach(k);
  return { k, store };
}

describe('FilePinStore: pins that outlive the process', () => {
  it("a name with '.' is refused as bpffs refuses it (EPERM); pinmaps' sanitized name (_rodata_str1_1) is a pin another kernel finds", () => {
    const dir = tempState();
    const a = proc(dir);
    const fd = a.k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 4, max_entries: 1 });
    // kernel/bpf/inode.c bpf_lookup: dots in names are reserved (bpftool pin … /sys/fs/bpf/a.b fails so)
    assert.equal(a.k.bpf('BPF_OBJ_PIN', { pathname: '/sys/fs/bpf/.rodata.str1.1', bpf_fd: fd }), -Errno.EPERM);
    assert.equal(a.k.bpf('BPF_OBJ_PIN', { pathname: `/sys/fs/bpf/${pinmapsName('.rodata.str1.1')}`, bpf_fd: fd }), 0);
    a.store.flush();
    a.k.process.exit();
    const b = proc(dir);
    assert.ok(b.k.bpf('BPF_OBJ_GET', { pathname: '/sys/fs/bpf/_rodata_str1_1' }) > 0);
    assert.ok(b.store.walk().includes('/sys/fs/bpf/_rodata_str1_1'));
  });
  it('a map pinned and updated by one kernel is read back by another, with its id', () => {
    const dir = tempState();
    const a = proc(dir);
    const fd = a.k.bpf('BPF_MAP_CREATE', {
      map_type: MapType.BPF_MAP_TYPE_HASH,
      key_size: 4,
      value_size: 4,
      max_entries: 8,
      map_name: 'kept',
    });
    assert.equal(a.k.bpf('BPF_OBJ_PIN', { pathname: '/sys/fs/bpf/kept', bpf_fd: fd }), 0);
    a.k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key: le32(7), value: le32(70) });
    a.store.flush();
    const id = a.k.process.mapOf(fd).map.id;
    a.k.process.exit();

    const b = proc(dir);
    const fd2 = b.k.bpf('BPF_OBJ_GET', { pathname: '/sys/fs/bpf/kept' });
    const v = new Uint8Array(4);
    assert.equal(b.k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd2, key: le32(7), value: v }), 0);
    assert.deepEqual([...v], [70, 0, 0, 0]);
    assert.equal(b.k.process.mapOf(fd2).map.id, id);
  });
  it('ids are unique across processes sharing the state directory', () => {
    const dir = tempState();
    const ids = [proc(dir), proc(dir), proc(dir)].map(({ k }) => {
      const fd = k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 4, max_entries: 1 });
      return k.process.mapOf(fd).map.id;
    });
    assert.equal(new Set(ids).size, 3);
  });
  it('directories, EEXIST, ENOENT, unlink and listing behave like bpffs', () => {
    const { k, store } = proc(tempState());
    const fd = k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 4, max_entries: 1 });
    store.mkdir('/sys/fs/bpf/dir');
    assert.equal(k.bpf('BPF_OBJ_PIN', { pathname: '/sys/fs/bpf/dir/m', bpf_fd: fd }), 0);
    assert.equal(k.bpf('BPF_OBJ_PIN', { pathname: '/sys/fs/bpf/dir/m', bpf_fd: fd }), -Errno.EEXIST);
    assert.equal(k.bpf('BPF_OBJ_PIN', { pathname: '/sys/fs/bpf/none/m', bpf_fd: fd }), -Errno.ENOENT);
    assert.deepEqual(store.list('/sys/fs/bpf'), ['dir']);
    assert.deepEqual(store.walk(), ['/sys/fs/bpf/dir/m']);
    assert.equal(k.unlink('/sys/fs/bpf/dir'), -Errno.ENOTEMPTY);
    assert.equal(k.unlink('/sys/fs/bpf/dir/m'), 0);
    assert.equal(k.unlink('/sys/fs/bpf/dir'), 0);
    assert.deepEqual(store.list('/sys/fs/bpf'), []);
  });
  it('queues, bloom filters and frozen maps come back as they were', () => {
    const dir = tempState();
    const a = proc(dir);
    const q = a.k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_QUEUE, key_size: 0, value_size: 4, max_entries: 4 });
    for (const v of [5, 6, 7]) a.k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: q, key: null, value: le32(v) });
    a.k.bpf('BPF_MAP_LOOKUP_AND_DELETE_ELEM', { map_fd: q, key: null, value: new Uint8Array(4) });
    a.k.bpf('BPF_OBJ_PIN', { pathname: '/sys/fs/bpf/q', bpf_fd: q });
    const f = a.k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 4, max_entries: 1 });
    a.k.bpf('BPF_MAP_FREEZE', { map_fd: f });
    a.k.bpf('BPF_OBJ_PIN', { pathname: '/sys/fs/bpf/f', bpf_fd: f });
    const b = proc(dir);
    const q2 = b.k.bpf('BPF_OBJ_GET', { pathname: '/sys/fs/bpf/q' });
    const v = new Uint8Array(4);
    const popped: number[] = [];
    while (b.k.bpf('BPF_MAP_LOOKUP_AND_DELETE_ELEM', { map_fd: q2, key: null, value: v }) === 0) popped.push(v[0]);
    assert.deepEqual(popped, [6, 7]);
    const st = a.k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_STACK, key_size: 0, value_size: 4, max_entries: 4 });
    for (const x of [1, 2, 3]) a.k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: st, key: null, value: le32(x) });
    a.k.bpf('BPF_OBJ_PIN', { pathname: '/sys/fs/bpf/st', bpf_fd: st });
    const c = proc(dir);
    const st2 = c.k.bpf('BPF_OBJ_GET', { pathname: '/sys/fs/bpf/st' });
    const lifo: number[] = [];
    while (c.k.bpf('BPF_MAP_LOOKUP_AND_DELETE_ELEM', { map_fd: st2, key: null, value: v }) === 0) lifo.push(v[0]);
    assert.deepEqual(lifo, [3, 2, 1], 'a stack comes back in the same order');
    const f2 = b.k.bpf('BPF_OBJ_GET', { pathname: '/sys/fs/bpf/f' });
    assert.equal(b.k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: f2, key: le32(0), value: le32(1) }), -Errno.EPERM);
  });
  it('a pinned program comes back with its maps', () => {
    const dir = tempState();
    const a = proc(dir);
    const m = a.k.bpf('BPF_MAP_CREATE', {
      map_type: MapType.BPF_MAP_TYPE_ARRAY,
      key_size: 4,
      value_size: 4,
      max_entries: 1,
      map_name: 'progmap',
    });
    const insns = encode(link([lddw(R1, m, Pseudo.BPF_PSEUDO_MAP_FD), mov(R0, 0), exit()]));
    const p = a.k.bpf('BPF_PROG_LOAD', { prog_type: ProgType.BPF_PROG_TYPE_XDP, insns, license: 'GPL', prog_name: 'pinned_prog' });
    a.k.bpf('BPF_OBJ_PIN', { pathname: '/sys/fs/bpf/p', bpf_fd: p });
    const tag = a.k.process.progOf(p).tag;
    const b = proc(dir);
    const p2 = b.k.bpf('BPF_OBJ_GET', { pathname: '/sys/fs/bpf/p' });
    const prog = b.k.process.progOf(p2);
    assert.equal(prog.tag, tag);
    assert.equal(prog.name, 'pinned_prog');
    assert.deepEqual(
      prog.maps.map((x) => x.spec.name),
      ['progmap'],
    );
  });
  it('a pin file that is not one is refused, naming the file', () => {
    const dir = tempState();
    writeFileSync(join(dir, 'junk'), '{"half": ');
    const { k } = proc(dir);
    assert.equal(k.bpf('BPF_OBJ_GET', { pathname: '/sys/fs/bpf/junk' }), -Errno.EINVAL);
    assert.throws(() => new FilePinStore(dir).read('/sys/fs/bpf/junk'), /junk: not a bpfbox pin file/);
  });
  it('writes leave no temporary files behind', () => {
    const dir = tempState();
    const { k, store } = proc(dir);
    const fd = k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 4, max_entries: 1 });
    k.bpf('BPF_OBJ_PIN', { pathname: '/sys/fs/bpf/m', bpf_fd: fd });
    for (let i = 0; i < 20; i++) {
      k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key: le32(0), value: le32(i) });
      store.flush();
    }
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.includes('.tmp')),
      [],
    );
    assert.match(readFileSync(join(dir, 'm'), 'utf8'), /"13000000"/);
  });
});
