import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mapCreateAttr } from '../../kernel/attr.js';
import { Kernel } from '../../kernel/kernel.js';
import { loadProgram } from '../../kernel/loadCollection.js';
import { Errno } from '../../uapi/errno.js';
import { XdpAction } from '../../uapi/xdp.js';
import { BpfCallError } from '../../lib/bpfCallError.js';
import { BpfMap } from '../../lib/bpfMap.js';
import { openObject } from '../../lib/objectSpec.js';
import { openPinned, unpin } from '../../lib/pins.js';
import { Program } from '../../lib/program.js';
import { verify } from '../../lib/verify.js';
import { REPO_ROOT } from '../support/paths.js';

const obj = (name: string) => join(REPO_ROOT, 'bpf', name);

function udp(len = 60): Uint8Array {
  const f = new Uint8Array(len);
  f.set([0x08, 0x00, 0x45], 12);
  f[23] = 17;
  return f;
}

describe('lib: Program, verify, pins', () => {
  it('testRun answers what BPF_PROG_TEST_RUN answers for the same packet', () => {
    const kernel = new Kernel();
    using coll = openObject(obj('xdp_stats.o'), { set: { drop_proto: 17 } }).load({ kernel });
    const prog = coll.programs.xdp_stats;
    const r = prog.testRun({ data: udp() });
    const attr = { prog_fd: prog.fd, data_in: udp(), data_out: new Uint8Array(128), retval: 0, data_size_out: 0 };
    assert.equal(kernel.bpf('BPF_PROG_TEST_RUN', attr), 0);
    assert.equal(r.retval, attr.retval);
    assert.equal(r.retval, XdpAction.XDP_DROP);
    assert.deepEqual(r.data, attr.data_out.subarray(0, attr.data_size_out));
    assert.equal(r.ctx, undefined);
    assert.equal(prog.typeName, 'xdp');
  });

  it('repeat runs the program that many times (counted by its own map)', () => {
    using coll = openObject(obj('xdp_stats.o')).load();
    const r = coll.programs.xdp_stats.testRun({ data: udp(), repeat: 5 });
    assert.equal(r.retval, XdpAction.XDP_PASS);
    assert.ok(r.duration >= 0);
    assert.deepEqual(coll.maps.proto_stats.lookup({ ethertype: 0x800, ipproto: 17 }), [{ packets: 5n, bytes: 300n }]);
  });

  it('testRun with a context: the xdp_md that comes back is the one the door gives back', () => {
    const kernel = new Kernel();
    using coll = openObject(obj('xdp_stats.o')).load({ kernel });
    const ctx = new Uint8Array(24); // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex
    const r = coll.programs.xdp_stats.testRun({ data: udp(), ctx });
    const attr = { prog_fd: coll.programs.xdp_stats.fd, data_in: udp(), ctx_in: ctx, ctx_out: new Uint8Array(24), ctx_size_out: 0 };
    assert.equal(kernel.bpf('BPF_PROG_TEST_RUN', attr), 0);
    assert.equal(attr.ctx_size_out, 24);
    assert.deepEqual(r.ctx, attr.ctx_out);
  });

  it('a test run the door refuses is a BpfCallError with its errno (a CPU past the kernel: ENXIO)', () => {
    using coll = openObject(obj('xdp_stats.o')).load();
    assert.throws(
      () => coll.programs.xdp_stats.testRun({ data: udp(), cpu: 3 }),
      (e: unknown) => e instanceof BpfCallError && e.errno === Errno.ENXIO && /^program xdp_stats: test run: ENXIO/.test(e.message),
    );
  });

  it('verify gives the log BPF_PROG_LOAD writes at that level, as text and entries', () => {
    const [v] = verify(obj('xdp_stats.o'), { logLevel: 2 });
    assert.equal(v.program, 'xdp_stats');
    assert.equal(v.accepted, true);
    // the door's own log at level 2, from a spec loaded by hand
    const o = openObject(obj('xdp_stats.o'));
    const k = new Kernel();
    const maps = new Map<string, number>();
    for (const m of o.spec.maps) {
      const fd = k.bpf('BPF_MAP_CREATE', mapCreateAttr(m.spec));
      if (m.initial) k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key: new Uint8Array(4), value: m.initial });
      if (m.internal?.readOnly) k.bpf('BPF_MAP_FREEZE', { map_fd: fd });
      maps.set(m.name, fd);
    }
    const door = loadProgram(k.process, o.spec, o.spec.programs[0], maps, 2);
    assert.equal(v.log, door.log);
    const processed = Number(/processed (\d+) insns/.exec(door.log)![1]);
    assert.equal(v.processed, processed);
    const first = v.entries.find((e) => e.kind === 'insn');
    assert.deepEqual(first, { kind: 'insn', insn: 0, opcode: 0x61, text: 'r8 = *(u32 *)(r1 +4)', state: 'R1=ctx() R8=pkt_end()' });
    assert.ok(v.entries.some((e) => e.kind === 'source' && e.file === 'xdp_stats.c' && e.line === 69));
    // every line of the log is one entry, empty lines left out
    assert.equal(v.entries.length, door.log.split('\n').filter((l) => l.trim()).length);
  });

  it('verify of a refused program: the errno and the verifier message', () => {
    const o = openObject(obj('xdp_stats.o')).setProgramType('xdp_stats', 'socket');
    const [v] = verify(o, { logLevel: 1 });
    assert.equal(v.accepted, false);
    assert.equal(v.errno, Errno.EACCES);
    assert.ok(v.error instanceof BpfCallError);
    assert.ok(
      v.entries.some((e) => e.kind === 'message' && e.text === "R1 invalid mem access 'scalar'"),
      v.log,
    );
  });

  it('pin, openPinned and unpin: the pinned map is the same object; gone after unpin', () => {
    const kernel = new Kernel();
    using coll = openObject(obj('xdp_stats.o')).load({ kernel });
    coll.maps.sampled.pin('/sys/fs/bpf/lib_sampled');
    coll.programs.xdp_stats.pin('/sys/fs/bpf/lib_prog');
    coll.maps.sampled.update(0, 42n);
    const m = openPinned(kernel, '/sys/fs/bpf/lib_sampled');
    assert.ok(m instanceof BpfMap);
    assert.equal(m.id, coll.maps.sampled.id);
    assert.notEqual(m.fd, coll.maps.sampled.fd);
    assert.deepEqual(m.lookup(0), 42n);
    const p = openPinned(kernel, '/sys/fs/bpf/lib_prog');
    assert.ok(p instanceof Program);
    assert.equal(p.id, coll.programs.xdp_stats.id);
    m.close();
    p.close();
    coll.maps.sampled.unpin('/sys/fs/bpf/lib_sampled');
    unpin(kernel, '/sys/fs/bpf/lib_prog');
    assert.throws(
      () => openPinned(kernel, '/sys/fs/bpf/lib_sampled'),
      (e: unknown) => e instanceof BpfCallError && e.errno === Errno.ENOENT,
    );
  });
});
