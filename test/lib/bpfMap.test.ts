import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Kernel } from '../../kernel/kernel.js';
import { Errno } from '../../uapi/errno.js';
import { UpdateFlag } from '../../uapi/mapType.js';
import { XdpAction } from '../../uapi/xdp.js';
import { BpfCallError } from '../../lib/bpfCallError.js';
import { openObject } from '../../lib/objectSpec.js';
import { REPO_ROOT } from '../support/paths.js';

const obj = (name: string) => join(REPO_ROOT, 'bpf', name);

/** udpFrame: a 60-byte IPv4 frame (ethertype 0x0800 at 12, IHL 5, protocol at 23, source address at 26). */
function ipv4Frame(proto: number, src: readonly number[] = [10, 0, 0, 1], len = 60): Uint8Array {
  const f = new Uint8Array(len);
  f.set([0x08, 0x00, 0x45], 12);
  f[23] = proto;
  f.set(src, 26);
  return f;
}

const u64 = (n: bigint) => new Uint8Array(new BigUint64Array([n]).buffer);
const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);

describe('lib: BpfMap', () => {
  it('reads a per-CPU hash typed by its BTF, as the door reads it in bytes', () => {
    const kernel = new Kernel({ ncpus: 2 });
    using coll = openObject(obj('xdp_stats.o'), { set: { drop_proto: 17 } }).load({ kernel });
    assert.equal(coll.programs.xdp_stats.testRun({ data: ipv4Frame(17) }).retval, XdpAction.XDP_DROP);
    assert.equal(coll.programs.xdp_stats.testRun({ data: ipv4Frame(6, [10, 0, 0, 2], 74) }).retval, XdpAction.XDP_PASS);
    const stats = coll.maps.proto_stats;
    const key = { ethertype: 0x800, ipproto: 17, pad: 0 };
    // the door: struct proto_key { __u16 ethertype; __u8 ipproto, pad; } little-endian; one 16-byte value per CPU
    const raw = new Uint8Array(32);
    assert.equal(kernel.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: stats.fd, key: Uint8Array.of(0x00, 0x08, 17, 0), value: raw }), 0);
    assert.deepEqual(stats.lookupBytes(key), raw);
    // the test run ran on CPU 0: 1 packet of 60 bytes there, nothing on CPU 1
    assert.deepEqual(stats.lookup(key), [
      { packets: 1n, bytes: 60n },
      { packets: 0n, bytes: 0n },
    ]);
    assert.equal(stats.lookup({ ethertype: 0x800, ipproto: 1, pad: 0 }), undefined);
    assert.deepEqual(
      [...stats.keys()].sort((a, b) => Number((a as { ipproto: bigint }).ipproto - (b as { ipproto: bigint }).ipproto)),
      [
        { ethertype: 0x800n, ipproto: 6n, pad: 0n },
        { ethertype: 0x800n, ipproto: 17n, pad: 0n },
      ],
    );
    assert.equal([...stats.entries()].length, 2);
  });

  it('writes typed keys and values the door reads back as the bytes a C program would have', () => {
    const kernel = new Kernel({ ncpus: 2 });
    using coll = openObject(obj('xdp_stats.o')).load({ kernel });
    const last = coll.maps.last_seen; // LRU hash __u32 -> __u64
    last.update(5, 7n);
    const v = new Uint8Array(8);
    assert.equal(kernel.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: last.fd, key: u32(5), value: v }), 0);
    assert.deepEqual(v, u64(7n));
    // per-CPU: one value for all CPUs, or one per CPU
    const hist = coll.maps.size_hist;
    hist.update(3, [10n, 20n]);
    const pv = new Uint8Array(16);
    assert.equal(kernel.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: hist.fd, key: u32(3), value: pv }), 0);
    assert.deepEqual(pv, Uint8Array.of(...u64(10n), ...u64(20n)));
    hist.update(4, 9n);
    assert.deepEqual(hist.lookup(4), [9n, 9n]);
    // BPF_NOEXIST on a present key: the door's EEXIST, typed
    const door = kernel.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: last.fd, key: u32(5), value: u64(1n), flags: UpdateFlag.BPF_NOEXIST });
    assert.throws(
      () => last.update(5, 1n, UpdateFlag.BPF_NOEXIST),
      (e: unknown) =>
        e instanceof BpfCallError && e.errno === -door && e.errno === Errno.EEXIST && /^map last_seen: update: EEXIST/.test(e.message),
    );
    // an array index past max_entries: the door's answer
    const past = kernel.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: hist.fd, key: u32(16), value: new Uint8Array(16) });
    assert.throws(
      () => hist.update(16, 0n),
      (e: unknown) => e instanceof BpfCallError && e.errno === -past,
    );
    assert.equal(last.delete(5), true);
    assert.equal(last.delete(5), false);
    assert.throws(() => last.update({ nope: 1 }, 1n), /key: an? .*integer|not an integer/);
  });

  it('batches: update, lookup in pages, delete, as the batch commands count them', () => {
    const kernel = new Kernel();
    using coll = openObject(obj('xdp_stats.o')).load({ kernel });
    const last = coll.maps.last_seen;
    assert.equal(last.updateBatch([1, 2, 3, 4, 5], [10n, 20n, 30n, 40n, 50n]), 5);
    const seen = new Map<bigint, bigint>();
    let from: Uint8Array | undefined;
    let pages = 0;
    for (;;) {
      const b = last.lookupBatch(2, from);
      pages++;
      b.keys.forEach((k, i) => seen.set(k as bigint, b.values[i] as bigint));
      if (!b.next) break;
      from = b.next;
      assert.ok(pages < 10);
    }
    assert.deepEqual(
      [...seen].sort((a, b) => Number(a[0] - b[0])),
      [
        [1n, 10n],
        [2n, 20n],
        [3n, 30n],
        [4n, 40n],
        [5n, 50n],
      ],
    );
    assert.equal(last.deleteBatch([1, 2]), 2);
    assert.deepEqual([...last.keys()].sort(), [3n, 4n, 5n]);
    const d = last.lookupBatch(10, undefined, { andDelete: true });
    assert.equal(d.keys.length, 3);
    assert.equal(d.next, undefined);
    assert.deepEqual([...last.keys()], []);
  });

  it('an LPM trie keyed by struct lpm_key decides lpm_firewall.o as its C says', () => {
    const kernel = new Kernel();
    using coll = openObject(obj('lpm_firewall.o')).load({ kernel });
    // addr is ip->saddr loaded as a little-endian u32: 10.0.0.0/8 is the bytes 0a 00 00 00
    coll.maps.blocked.update({ prefixlen: 8, addr: 0x0000000a }, 1);
    const raw = new Uint8Array(4);
    assert.equal(
      kernel.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: coll.maps.blocked.fd, key: Uint8Array.of(32, 0, 0, 0, 10, 9, 9, 9), value: raw }),
      0,
    );
    assert.deepEqual(raw, u32(1));
    const fw = coll.programs.xdp_firewall;
    assert.equal(fw.testRun({ data: ipv4Frame(6, [10, 1, 2, 3]) }).retval, XdpAction.XDP_DROP);
    assert.equal(fw.testRun({ data: ipv4Frame(6, [11, 1, 2, 3]) }).retval, XdpAction.XDP_PASS);
    assert.equal(fw.testRun({ data: ipv4Frame(6, [11, 1, 2, 4]) }).retval, XdpAction.XDP_PASS);
    assert.deepEqual(coll.maps.verdicts.lookup(0), [1n]);
    assert.deepEqual(coll.maps.verdicts.lookup(1), [2n]);
  });

  it('close drops the fd: the door then answers EBADF, and the map object refuses', () => {
    const kernel = new Kernel();
    let fd: number;
    {
      using coll = openObject(obj('xdp_stats.o')).load({ kernel });
      fd = coll.maps.sampled.fd;
    }
    assert.equal(kernel.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key: u32(0), value: new Uint8Array(8) }), -Errno.EBADF);
  });
});
