import assert from 'node:assert/strict';
import { Errno } from '../../uapi/errno.js';
import { Kernel } from '../../kernel/kernel.js';
import { StructOpsState } from '../../kernel/structOps/state.js';
import { MapFlag, MapType } from '../../uapi/mapType.js';
import { AttachType, ProgType } from '../../uapi/progType.js';
import { encode } from '../../vm/decode.js';
import { R0, R1, R2, exit, ldx, link, mov } from '../../vm/dsl.js';
import type { LinkInfo, MapInfo } from '../../uapi/info.js';

// struct tcp_congestion_ops member indices and offsets (6.18's BTF, hand-copied from bpftool's raw dump)
const SSTHRESH = 0,
  CONG_AVOID = 1,
  CONG_CONTROL = 7,
  UNDO_CWND = 8,
  GET_INFO = 10,
  NAME = 11;
const DATA = 64; // bpf_struct_ops_tcp_congestion_ops.data
const NAME_OFF = DATA + 88;
const FLAGS_OFF = DATA + 132;
const OWNER_OFF = DATA + 104;
const VALUE_SIZE = 256;

const RET1 = encode(link([mov(R0, 1), exit()]));
const VOID = encode(link([exit()]));
const key0 = new Uint8Array(4);
const key1 = Uint8Array.from([1, 0, 0, 0]);

interface Env {
  k: Kernel;
  typeId: number;
  valueTypeId: number;
}

function env(): Env {
  const k = new Kernel();
  const ops = k.structOps.byName('tcp_congestion_ops')!;
  return { k, typeId: ops.typeId, valueTypeId: ops.valueTypeId };
}

function loadProg(e: Env, member: number, over: { license?: string; insns?: Uint8Array; attach_btf_id?: number } = {}): number {
  const insns = over.insns ?? ([CONG_AVOID, CONG_CONTROL].includes(member) ? VOID : RET1);
  return e.k.bpf('BPF_PROG_LOAD', {
    prog_type: ProgType.BPF_PROG_TYPE_STRUCT_OPS,
    insns,
    license: over.license ?? 'GPL',
    attach_btf_id: over.attach_btf_id ?? e.typeId,
    expected_attach_type: member,
  });
}

function createMap(
  e: Env,
  over: { flags?: number; value_size?: number; max_entries?: number; key_size?: number; vt?: number } = {},
): number {
  return e.k.bpf('BPF_MAP_CREATE', {
    map_type: MapType.BPF_MAP_TYPE_STRUCT_OPS,
    key_size: over.key_size ?? 4,
    value_size: over.value_size ?? VALUE_SIZE,
    max_entries: over.max_entries ?? 1,
    map_flags: over.flags ?? 0,
    map_name: 'cc',
    btf_vmlinux_value_type_id: over.vt ?? e.valueTypeId,
  });
}

/** value builds a struct bpf_struct_ops_tcp_congestion_ops: a name and program fds by member index. */
function value(name: string, progs: Record<number, number>): Uint8Array {
  const v = new Uint8Array(VALUE_SIZE);
  const dv = new DataView(v.buffer);
  v.set(new TextEncoder().encode(name), NAME_OFF);
  for (const [idx, fd] of Object.entries(progs)) dv.setBigUint64(DATA + 8 * Number(idx), BigInt(fd), true);
  return v;
}

/** minimal: the three required members loaded, and their fds. */
function minimal(e: Env): Record<number, number> {
  return { [SSTHRESH]: loadProg(e, SSTHRESH), [CONG_AVOID]: loadProg(e, CONG_AVOID), [UNDO_CWND]: loadProg(e, UNDO_CWND) };
}

function lookup(e: Env, fd: number): { state: number; refcnt: number; v: Uint8Array } {
  const v = new Uint8Array(VALUE_SIZE);
  assert.equal(e.k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key: key0, value: v }), 0);
  const dv = new DataView(v.buffer);
  return { refcnt: dv.getUint32(0, true), state: dv.getUint32(4, true), v };
}

const slot = (v: Uint8Array, idx: number) => Number(new DataView(v.buffer).getBigUint64(DATA + 8 * idx, true));

describe('struct_ops: BPF_MAP_TYPE_STRUCT_OPS through the bpf() door (tcp_congestion_ops)', () => {
  it('map create: key 4, one entry, the value type and its size, flags only BPF_F_LINK; a non-value type ENOTSUPP', () => {
    const e = env();
    assert.ok(createMap(e) >= 3);
    assert.ok(createMap(e, { flags: MapFlag.BPF_F_LINK }) >= 3);
    assert.equal(createMap(e, { key_size: 8 }), -Errno.EINVAL);
    assert.equal(createMap(e, { max_entries: 2 }), -Errno.EINVAL);
    assert.equal(createMap(e, { value_size: 192 }), -Errno.EINVAL);
    assert.equal(createMap(e, { flags: MapFlag.BPF_F_NO_PREALLOC }), -Errno.EINVAL);
    assert.equal(createMap(e, { flags: MapFlag.BPF_F_VTYPE_BTF_OBJ_FD }), -Errno.EINVAL, 'no module BTF here');
    assert.equal(createMap(e, { vt: 0 }), -Errno.EINVAL);
    assert.equal(createMap(e, { vt: e.typeId }), -Errno.ENOTSUPP, 'the struct itself is not a value type');
    assert.equal(createMap(e, { vt: 1 }), -Errno.ENOTSUPP);
    const info: { bpf_fd: number; info?: MapInfo } = { bpf_fd: 3 };
    assert.equal(e.k.bpf('BPF_OBJ_GET_INFO_BY_FD', info as never), 0);
    assert.equal(info.info!.btf_vmlinux_value_type_id, e.valueTypeId);
  });

  it('lookup: key ≠ 0 ENOENT, INIT all zeros, get_next_key as a one-entry array', () => {
    const e = env();
    const fd = createMap(e);
    const v = new Uint8Array(VALUE_SIZE).fill(0xaa);
    assert.equal(e.k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key: key1, value: v }), -Errno.ENOENT);
    assert.equal(e.k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key: key0, value: v }), 0);
    assert.ok(v.every((b) => b === 0));
    const next = new Uint8Array(4).fill(9);
    assert.equal(e.k.bpf('BPF_MAP_GET_NEXT_KEY', { map_fd: fd, key: null, next_key: next }), 0);
    assert.deepEqual([...next], [0, 0, 0, 0]);
    assert.equal(e.k.bpf('BPF_MAP_GET_NEXT_KEY', { map_fd: fd, key: key0, next_key: next }), -Errno.ENOENT);
  });

  it('update registers: INUSE, program ids in the slots, the subsystem holds the map beyond its fds', () => {
    const e = env();
    const fd = createMap(e);
    const progs = minimal(e);
    assert.equal(e.k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key: key0, value: value('bbx_plain', progs) }), 0);
    const { state, refcnt, v } = lookup(e, fd);
    assert.equal(state, StructOpsState.BPF_STRUCT_OPS_STATE_INUSE);
    assert.equal(refcnt, 1);
    const ids = [SSTHRESH, CONG_AVOID, UNDO_CWND].map((i) => slot(v, i));
    const expected = [SSTHRESH, CONG_AVOID, UNDO_CWND].map((i) => {
      const info: { bpf_fd: number; info?: { id: number } } = { bpf_fd: progs[i] };
      e.k.bpf('BPF_OBJ_GET_INFO_BY_FD', info as never);
      return info.info!.id;
    });
    assert.deepEqual(ids, expected);
    assert.equal(new TextDecoder().decode(v.subarray(NAME_OFF, NAME_OFF + 9)), 'bbx_plain');
    const mapId = [...e.k.maps.keys()][0];
    for (const p of Object.values(progs)) e.k.close(p);
    e.k.close(fd);
    assert.ok(e.k.maps.has(mapId), 'the subsystem holds the map');
    assert.equal(e.k.progs.size, 3, 'the map holds its programs');
    // the same name again, from another map: EEXIST and back to INIT
    const fd2 = createMap(e);
    assert.equal(e.k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd2, key: key0, value: value('bbx_plain', minimal(e)) }), -Errno.EEXIST);
    assert.equal(lookup(e, fd2).state, StructOpsState.BPF_STRUCT_OPS_STATE_INIT);
    assert.ok(lookup(e, fd2).v.every((b) => b === 0));
    assert.equal(
      e.k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd2, key: key0, value: value('reno', minimal(e)) }),
      -Errno.EEXIST,
      'a built-in name',
    );
    // unregistering frees the first map (the subsystem's was its last reference)
    const again = e.k.bpf('BPF_MAP_GET_FD_BY_ID', { map_id: mapId });
    assert.equal(e.k.bpf('BPF_MAP_DELETE_ELEM', { map_fd: again, key: key0 }), 0);
    assert.equal(lookup(e, again).state, StructOpsState.BPF_STRUCT_OPS_STATE_TOBEFREE);
    assert.equal(lookup(e, again).refcnt, 0);
    e.k.close(again);
    assert.ok(!e.k.maps.has(mapId));
    assert.equal(
      e.k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd2, key: key0, value: value('bbx_plain', minimal(e)) }),
      0,
      'the name is free again',
    );
  });

  it('update refuses with the errno of each row, leaving the map in INIT', () => {
    const e = env();
    const fd = createMap(e);
    const progs = minimal(e);
    const upd = (v: Uint8Array, over: { key?: Uint8Array; flags?: number } = {}) =>
      e.k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key: over.key ?? key0, value: v, flags: over.flags });
    const good = () => value('bbx_rows', progs);
    const poke = (off: number, byte = 1) => {
      const v = good();
      v[off] = byte;
      return v;
    };
    assert.equal(upd(good(), { key: key1 }), -Errno.E2BIG);
    assert.equal(upd(good(), { flags: 1 }), -Errno.EINVAL);
    assert.equal(upd(poke(DATA + 160)), -Errno.EINVAL, 'padding at the end of tcp_congestion_ops');
    assert.equal(upd(poke(4)), -Errno.EINVAL, 'state');
    assert.equal(upd(poke(0)), -Errno.EINVAL, 'refcnt');
    assert.equal(upd(poke(DATA + 128)), -Errno.EINVAL, 'key: a non-function member the subsystem does not take');
    // the module owner: the kernel resets the map and returns init_member's last result (1, after name): 6.18 measured
    assert.equal(upd(poke(OWNER_OFF)), 1, 'the module owner');
    assert.equal(lookup(e, fd).state, StructOpsState.BPF_STRUCT_OPS_STATE_INIT);
    assert.equal(upd(poke(FLAGS_OFF, 0x8)), -Errno.EINVAL, 'flags beyond TCP_CONG_MASK');
    assert.equal(upd(value('', progs)), -Errno.EINVAL, 'an empty name');
    assert.equal(upd(value('bad-name', progs)), -Errno.EINVAL, 'a name with a dash');
    assert.equal(upd(value('x', { ...progs, [SSTHRESH]: progs[UNDO_CWND] })), -Errno.EINVAL, 'a program for another member');
    assert.equal(upd(value('x', { ...progs, [SSTHRESH]: fd })), -Errno.EINVAL, 'a map fd in a slot');
    assert.equal(upd(value('x', { ...progs, [SSTHRESH]: 99 })), -Errno.EBADF);
    const xdp = e.k.bpf('BPF_PROG_LOAD', { prog_type: ProgType.BPF_PROG_TYPE_XDP, insns: RET1, license: 'GPL' });
    assert.equal(upd(value('x', { ...progs, [SSTHRESH]: xdp })), -Errno.EINVAL, 'a program of the wrong type');
    assert.equal(
      upd(value('x', { [SSTHRESH]: progs[SSTHRESH], [CONG_AVOID]: progs[CONG_AVOID] })),
      -Errno.EINVAL,
      'validate: no undo_cwnd',
    );
    const progsBefore = [...e.k.progs.values()].map((p) => p.refs);
    assert.equal(lookup(e, fd).state, StructOpsState.BPF_STRUCT_OPS_STATE_INIT);
    // cong_control instead of cong_avoid is enough
    const cc = loadProg(e, CONG_CONTROL);
    assert.equal(upd(value('bbx_cc', { [SSTHRESH]: progs[SSTHRESH], [CONG_CONTROL]: cc, [UNDO_CWND]: progs[UNDO_CWND] })), 0);
    assert.equal(upd(good()), -Errno.EBUSY, 'INUSE');
    assert.equal(e.k.bpf('BPF_MAP_DELETE_ELEM', { map_fd: fd, key: key0 }), 0);
    assert.equal(e.k.bpf('BPF_MAP_DELETE_ELEM', { map_fd: fd, key: key0 }), -Errno.EINPROGRESS);
    assert.equal(upd(good()), -Errno.EBUSY, 'TOBEFREE');
    assert.equal(progsBefore.length, 4, 'the failed updates held no program (three minimal ones and the XDP one)');
  });

  it('delete: INIT ENOENT; a link map EOPNOTSUPP', () => {
    const e = env();
    assert.equal(e.k.bpf('BPF_MAP_DELETE_ELEM', { map_fd: createMap(e), key: key0 }), -Errno.ENOENT);
    assert.equal(e.k.bpf('BPF_MAP_DELETE_ELEM', { map_fd: createMap(e, { flags: MapFlag.BPF_F_LINK }), key: key0 }), -Errno.EOPNOTSUPP);
  });

  it('programs: GPL-compatible, an attach_btf_id of a struct_ops struct, a function member the subsystem supports', () => {
    const e = env();
    assert.ok(loadProg(e, SSTHRESH) >= 3);
    assert.equal(loadProg(e, SSTHRESH, { license: 'MIT' }), -Errno.EINVAL);
    assert.equal(loadProg(e, SSTHRESH, { attach_btf_id: 0 }), -Errno.ENOTSUPP);
    assert.equal(loadProg(e, SSTHRESH, { attach_btf_id: e.valueTypeId }), -Errno.ENOTSUPP);
    assert.equal(loadProg(e, 18), -Errno.EINVAL, 'no member 18');
    assert.equal(loadProg(e, NAME), -Errno.EINVAL, 'name is not a function pointer');
    assert.equal(loadProg(e, GET_INFO), -Errno.ENOTSUPP, 'get_info is unsupported (check_member)');
    // a u32 member must set R0; a void one need not
    assert.equal(loadProg(e, SSTHRESH, { insns: VOID }), -Errno.EACCES);
    assert.ok(loadProg(e, CONG_AVOID, { insns: VOID }) >= 3);
    // the context is the u64 arguments: cong_avoid(sk, ack, acked) reads ack at 8, nothing at 24, writes nothing
    const ctxRead = (off: number, size = 4) => encode(link([ldx(size === 8 ? 'u64' : 'u32', R2, R1, off), exit()]));
    assert.ok(loadProg(e, CONG_AVOID, { insns: ctxRead(8) }) >= 3);
    assert.ok(loadProg(e, CONG_AVOID, { insns: ctxRead(16, 8) }) >= 3);
    assert.equal(loadProg(e, CONG_AVOID, { insns: ctxRead(24, 8) }), -Errno.EACCES);
  });

  it('links: create registers a READY link map, update swaps, detach unregisters; ids, info and pins', () => {
    const e = env();
    const plain = createMap(e);
    const m1 = createMap(e, { flags: MapFlag.BPF_F_LINK });
    const m2 = createMap(e, { flags: MapFlag.BPF_F_LINK });
    const create = (map_fd: number) => e.k.bpf('BPF_LINK_CREATE', { map_fd, attach_type: AttachType.BPF_STRUCT_OPS });
    assert.equal(create(m1), -Errno.EINVAL, 'INIT, not READY');
    assert.equal(e.k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: m1, key: key0, value: value('bbx_l1', minimal(e)) }), 0);
    assert.equal(lookup(e, m1).state, StructOpsState.BPF_STRUCT_OPS_STATE_READY);
    assert.equal(lookup(e, m1).refcnt, 0, 'READY is not registered');
    assert.equal(
      e.k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: plain, key: key0, value: value('bbx_l1', minimal(e)) }),
      0,
      'the name is free: READY did not register',
    );
    assert.equal(e.k.bpf('BPF_MAP_DELETE_ELEM', { map_fd: plain, key: key0 }), 0);
    assert.equal(create(plain), -Errno.EINVAL, 'not a link map');
    assert.equal(e.k.bpf('BPF_LINK_CREATE', { map_fd: m1, attach_type: AttachType.BPF_XDP }), -Errno.EINVAL);
    const l = create(m1);
    assert.ok(l >= 3);
    assert.equal(create(m1), -Errno.EEXIST, 'a second link on the same map');
    assert.equal(lookup(e, m1).refcnt, 1);
    const info: { bpf_fd: number; info?: LinkInfo } = { bpf_fd: l };
    assert.equal(e.k.bpf('BPF_OBJ_GET_INFO_BY_FD', info as never), 0);
    const m1Id = [...e.k.maps.values()].find((m) => m.structOps?.kdata && m.spec.flags === MapFlag.BPF_F_LINK)!.id;
    assert.equal(info.info!.map_id, m1Id);
    assert.equal(info.info!.type, 9);
    const linkId = info.info!.id;
    // ids: next id, fd by id, pins
    const nid: { start_id: number; next_id?: number } = { start_id: 0 };
    assert.equal(e.k.bpf('BPF_LINK_GET_NEXT_ID', nid), 0);
    assert.equal(nid.next_id, linkId);
    assert.equal(e.k.bpf('BPF_LINK_GET_NEXT_ID', { start_id: linkId }), -Errno.ENOENT);
    assert.equal(e.k.bpf('BPF_OBJ_PIN', { pathname: '/sys/fs/bpf/cc_link', bpf_fd: l }), 0);
    const byPin = e.k.bpf('BPF_OBJ_GET', { pathname: '/sys/fs/bpf/cc_link' });
    const byId = e.k.bpf('BPF_LINK_GET_FD_BY_ID', { link_id: linkId });
    assert.ok(byPin >= 3 && byId >= 3);
    // update: READY map needed, BPF_F_REPLACE rules, update op
    const upd = (a: { new_map_fd: number; old_map_fd?: number; flags?: number }) => e.k.bpf('BPF_LINK_UPDATE', { link_fd: l, ...a });
    assert.equal(upd({ new_map_fd: m2 }), -Errno.EINVAL, 'm2 not READY');
    // the replacement keeps the algorithm's name (another name is EINVAL on 6.18)
    const other = createMap(e, { flags: MapFlag.BPF_F_LINK });
    assert.equal(e.k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: other, key: key0, value: value('bbx_l2', minimal(e)) }), 0);
    assert.equal(upd({ new_map_fd: other }), -Errno.EINVAL, 'another name');
    assert.equal(e.k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: m2, key: key0, value: value('bbx_l1', minimal(e)) }), 0);
    assert.equal(upd({ new_map_fd: m2, old_map_fd: m1 }), -Errno.EINVAL, 'old_map_fd without BPF_F_REPLACE');
    assert.equal(upd({ new_map_fd: m2, old_map_fd: m2, flags: 4 }), -Errno.EPERM, 'wrong old map');
    assert.equal(upd({ new_map_fd: m2, old_map_fd: m1, flags: 4 }), 0);
    assert.equal(lookup(e, m2).refcnt, 1);
    assert.equal(lookup(e, m1).refcnt, 0);
    const info2: { bpf_fd: number; info?: LinkInfo } = { bpf_fd: byId };
    e.k.bpf('BPF_OBJ_GET_INFO_BY_FD', info2 as never);
    assert.notEqual(info2.info!.map_id, m1Id);
    // detach: 0, again 0; then update ENOLINK
    assert.equal(e.k.bpf('BPF_LINK_DETACH', { link_fd: l }), 0);
    assert.equal(e.k.bpf('BPF_LINK_DETACH', { link_fd: l }), 0);
    assert.equal(lookup(e, m2).refcnt, 0);
    assert.equal(upd({ new_map_fd: m1 }), -Errno.ENOLINK);
    // bbx_l1 is free again: a new link on m2 registers it
    const l2 = create(m2);
    assert.ok(l2 >= 3);
    // the last reference to a link unregisters (dealloc)
    e.k.close(l2);
    assert.equal(lookup(e, m2).refcnt, 0);
    e.k.close(l);
    e.k.close(byId);
    e.k.close(byPin);
    assert.ok(e.k.links.has(linkId), 'the pin holds the link');
    assert.equal(e.k.unlink('/sys/fs/bpf/cc_link'), 0);
    assert.ok(!e.k.links.has(linkId));
  });
});
