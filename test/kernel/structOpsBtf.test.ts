import assert from 'node:assert/strict';
import { Btf } from '../../elf/btf.js';
import { BASE_BTF, BASE_BTF_TYPES } from '../../uapi/baseBtf.js';
import { encodeBtf } from '../../uapi/btfEncode.js';
import { Kind } from '../../uapi/btf.js';
import { Errno } from '../../uapi/errno.js';
import { Kernel } from '../../kernel/kernel.js';
import { StructOpsRegistry } from '../../kernel/structOps/registry.js';
import { tcpCongestionOps } from '../../kernel/structOps/tcpCongestionOps.js';
import type { StructOpsDesc } from '../../kernel/structOps/desc.js';
import { MapFlag, MapType } from '../../uapi/mapType.js';
import { AttachType, ProgType } from '../../uapi/progType.js';
import { encode } from '../../vm/decode.js';
import { R0, exit, link, mov } from '../../vm/dsl.js';

/** struct tcp_congestion_ops in the running 6.18 kernel (bpftool btf dump file /sys/kernel/btf/vmlinux format raw): name, bits_offset. */
const TCP_CA_6_18: readonly [string, number][] = [
  ['ssthresh', 0],
  ['cong_avoid', 64],
  ['set_state', 128],
  ['cwnd_event', 192],
  ['in_ack_event', 256],
  ['pkts_acked', 320],
  ['min_tso_segs', 384],
  ['cong_control', 448],
  ['undo_cwnd', 512],
  ['sndbuf_expand', 576],
  ['get_info', 640],
  ['name', 704],
  ['owner', 832],
  ['list', 896],
  ['key', 1024],
  ['flags', 1056],
  ['init', 1088],
  ['release', 1152],
];

describe('struct_ops: the base BTF', () => {
  it('round-trips through the ELF loader’s BTF reader with the kernel’s layouts', () => {
    const btf = new Btf(BASE_BTF);
    assert.equal(btf.types.length, BASE_BTF_TYPES.length + 1);
    const ca = btf.byName(Kind.STRUCT, 'tcp_congestion_ops')!;
    assert.equal(ca.size, 192);
    assert.deepEqual(
      ca.members.map((m) => [m.name, m.offset]),
      TCP_CA_6_18,
    );
    const vt = btf.byName(Kind.STRUCT, 'bpf_struct_ops_tcp_congestion_ops')!;
    assert.equal(vt.size, 256);
    assert.deepEqual(
      vt.members.map((m) => [m.name, m.offset, btf.skipModifiers(m.type).name]),
      [
        ['common', 0, 'bpf_struct_ops_common_value'],
        ['data', 512, 'tcp_congestion_ops'],
      ],
    );
    const state = btf.byName(Kind.ENUM, 'bpf_struct_ops_state')!;
    assert.deepEqual(
      state.members.map((m) => [m.name, m.offset]),
      [
        ['BPF_STRUCT_OPS_STATE_INIT', 0],
        ['BPF_STRUCT_OPS_STATE_INUSE', 1],
        ['BPF_STRUCT_OPS_STATE_TOBEFREE', 2],
        ['BPF_STRUCT_OPS_STATE_READY', 3],
      ],
    );
    // cong_control: void (struct sock *, u32, int, const struct rate_sample *)
    const proto = btf.skipModifiers(btf.get(ca.members[7].type).type);
    assert.equal(proto.kind, Kind.FUNC_PROTO);
    assert.equal(proto.type, 0);
    assert.deepEqual(
      proto.members.map((p) => btf.sizeOf(p.type)),
      [8, 4, 4, 8],
    );
    assert.equal(btf.sizeOf(ca.members[11].type), 16, 'char name[16]');
    assert.equal(btf.byName(Kind.STRUCT, 'bpf_struct_ops_bbx_queue_ops')!.size, 128);
  });

  it('the encoder writes what the reader reads: ints, enums, forward unions, strings shared', () => {
    const bytes = encodeBtf([
      { kind: 'INT', name: 'int', size: 4, signed: true },
      { kind: 'FWD', name: 'u', union: true },
      { kind: 'ENUM', name: 'e', size: 4, values: [['A', 7]] },
      { kind: 'STRUCT', name: 'int', size: 8, members: [{ name: 'e', type: 3, bitOffset: 32 }] },
    ]);
    const btf = new Btf(bytes);
    assert.deepEqual(
      btf.types.slice(1).map((t) => [t.kind, t.name]),
      [
        [Kind.INT, 'int'],
        [Kind.FWD, 'u'],
        [Kind.ENUM, 'e'],
        [Kind.STRUCT, 'int'],
      ],
    );
    assert.equal(btf.get(1).signed, true);
    assert.equal(btf.get(1).intBits, 32);
    assert.equal(btf.get(3).members[0].offset, 7);
    // "int" stored once: header + 4 records + strings "\0int\0u\0e\0A\0"
    assert.equal(new TextDecoder().decode(btf.strings), '\0int\0u\0e\0A\0');
  });
});

describe('struct_ops: link update across subsystems', () => {
  const RET0 = encode(link([mov(R0, 0), exit()]));
  const key0 = new Uint8Array(4);

  /** A second subsystem on struct bbx_queue_ops without an update op (a stand-in for the appliance's). */
  function queueOps(): StructOpsDesc {
    return { name: 'bbx_queue_ops', initMember: () => 0, reg: () => 0, unreg: () => {} };
  }

  it('a map of another struct_ops is EINVAL; a subsystem without update EOPNOTSUPP', () => {
    const reg = new StructOpsRegistry();
    const tcp = reg.add(tcpCongestionOps());
    const q = reg.add(queueOps());
    assert.throws(
      () => reg.add(queueOps()),
      (e: { errno?: number }) => e.errno === Errno.EEXIST,
    );
    const k = new Kernel({ structOps: reg });
    const mk = (vt: number, size: number) =>
      k.bpf('BPF_MAP_CREATE', {
        map_type: MapType.BPF_MAP_TYPE_STRUCT_OPS,
        key_size: 4,
        value_size: size,
        max_entries: 1,
        map_flags: MapFlag.BPF_F_LINK,
        btf_vmlinux_value_type_id: vt,
      });
    const prog = (typeId: number, member: number) =>
      k.bpf('BPF_PROG_LOAD', {
        prog_type: ProgType.BPF_PROG_TYPE_STRUCT_OPS,
        insns: RET0,
        license: 'GPL',
        attach_btf_id: typeId,
        expected_attach_type: member,
      });
    // tcp map: name, ssthresh, cong_avoid, undo_cwnd
    const tcpValue = new Uint8Array(256);
    const dv = new DataView(tcpValue.buffer);
    tcpValue.set(new TextEncoder().encode('bbx_x'), 64 + 88);
    for (const m of [0, 1, 8]) dv.setBigUint64(64 + 8 * m, BigInt(prog(tcp.typeId, m)), true);
    const tcpMap = mk(tcp.valueTypeId, 256);
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: tcpMap, key: key0, value: tcpValue }), 0);
    // queue maps: select_worker only
    const qValue = new Uint8Array(128);
    new DataView(qValue.buffer).setBigUint64(64, BigInt(prog(q.typeId, 0)), true);
    const q1 = mk(q.valueTypeId, 128);
    const q2 = mk(q.valueTypeId, 128);
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: q1, key: key0, value: qValue }), 0);
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: q2, key: key0, value: qValue }), 0);
    const tcpLink = k.bpf('BPF_LINK_CREATE', { map_fd: tcpMap, attach_type: AttachType.BPF_STRUCT_OPS });
    const qLink = k.bpf('BPF_LINK_CREATE', { map_fd: q1, attach_type: AttachType.BPF_STRUCT_OPS });
    assert.ok(tcpLink >= 3 && qLink >= 3);
    // the new map's subsystem decides first: no update op EOPNOTSUPP (even across subsystems), then the types must match
    assert.equal(k.bpf('BPF_LINK_UPDATE', { link_fd: qLink, new_map_fd: q2 }), -Errno.EOPNOTSUPP, 'no update op');
    assert.equal(k.bpf('BPF_LINK_UPDATE', { link_fd: tcpLink, new_map_fd: q2 }), -Errno.EOPNOTSUPP);
    const tcpMap2 = mk(tcp.valueTypeId, 256);
    tcpValue.set(new TextEncoder().encode('bbx_x'), 64 + 88);
    for (const m of [0, 1, 8]) dv.setBigUint64(64 + 8 * m, BigInt(prog(tcp.typeId, m)), true);
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: tcpMap2, key: key0, value: tcpValue }), 0);
    assert.equal(k.bpf('BPF_LINK_UPDATE', { link_fd: qLink, new_map_fd: tcpMap2 }), -Errno.EINVAL, 'another struct_ops');
    assert.equal(k.bpf('BPF_LINK_UPDATE', { link_fd: tcpLink, new_map_fd: tcpMap2 }), 0, 'same struct_ops, same name');
    assert.equal(k.bpf('BPF_LINK_UPDATE', { link_fd: qLink, new_map_fd: q2, flags: 1 }), -Errno.EINVAL, 'flags beyond BPF_F_REPLACE');
  });
});
