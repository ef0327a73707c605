import assert from 'node:assert/strict';
import { Errno } from '../../uapi/errno.js';
import type { MapInfo, ProgInfo } from '../../uapi/info.js';
import type { MapBatchAttr } from '../../kernel/attr.js';
import { Kernel } from '../../kernel/kernel.js';
import { MapFlag, MapType, UpdateFlag } from '../../uapi/mapType.js';
import { ProgType } from '../../uapi/progType.js';
import { encode } from '../../vm/decode.js';
import { R0, R1, exit, lddw, link, mov } from '../../vm/dsl.js';
import { Pseudo } from '../../vm/opcodes.js';
import { le32 } from '../maps/support.js';

const ARRAY = { map_type: MapType.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 8, max_entries: 4, map_name: 'arr' };
const HASH = { map_type: MapType.BPF_MAP_TYPE_HASH, key_size: 4, value_size: 4, max_entries: 2, map_name: 'h' };
const RET0 = encode(link([mov(R0, 0), exit()]));

describe('the bpf() door', () => {
  it('BPF_MAP_CREATE returns fds from 3 up; bad input is EINVAL and creates nothing', () => {
    const k = new Kernel();
    assert.equal(k.bpf('BPF_MAP_CREATE', ARRAY), 3);
    assert.equal(k.bpf('BPF_MAP_CREATE', HASH), 4);
    assert.equal(k.bpf('BPF_MAP_CREATE', { ...HASH, max_entries: 0 }), -Errno.EINVAL);
    assert.equal(k.bpf('BPF_MAP_CREATE', { ...HASH, key_size: 0 }), -Errno.EINVAL);
    assert.equal(k.bpf('BPF_MAP_CREATE', { ...HASH, map_type: 999 }), -Errno.EINVAL);
    assert.equal(k.bpf('BPF_MAP_CREATE', { ...HASH, map_flags: 0x80000000 }), -Errno.EINVAL);
    assert.equal(k.bpf('BPF_MAP_CREATE', { ...ARRAY, key_size: 8 }), -Errno.EINVAL);
    assert.equal(k.bpf('BPF_MAP_CREATE', { ...HASH, map_name: 'a-name-that-is-far-too-long' }), -Errno.EINVAL);
    assert.equal(k.maps.size, 2);
  });
  it('unknown commands and non-zero unused attribute fields are EINVAL', () => {
    const k = new Kernel();
    assert.equal(k.bpf('BPF_NO_SUCH' as never, {} as never), -Errno.EINVAL);
    assert.equal(k.bpf('BPF_MAP_FREEZE', { map_fd: 3, key: new Uint8Array(4) } as never), -Errno.EINVAL);
  });
  it("element commands answer with the kernel's errno, and a failed update changes nothing", () => {
    const k = new Kernel();
    const fd = k.bpf('BPF_MAP_CREATE', HASH);
    const value = new Uint8Array(4);
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key: le32(1), value: le32(10) }), 0);
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key: le32(2), value: le32(20) }), 0);
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key: le32(3), value: le32(30) }), -Errno.E2BIG);
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key: le32(1), value: le32(11), flags: UpdateFlag.BPF_NOEXIST }), -Errno.EEXIST);
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key: le32(7), value: le32(70), flags: UpdateFlag.BPF_EXIST }), -Errno.ENOENT);
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key: le32(1), value: new Uint8Array(3) }), -Errno.EINVAL);
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key: new Uint8Array(2), value: le32(1) }), -Errno.EINVAL);
    assert.equal(k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key: le32(1), value }), 0);
    assert.deepEqual([...value], [10, 0, 0, 0], 'the failed updates left key 1 as it was');
    assert.equal(k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key: le32(3), value }), -Errno.ENOENT);
    assert.equal(k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: 99, key: le32(3), value }), -Errno.EBADF);
    assert.equal(k.bpf('BPF_MAP_DELETE_ELEM', { map_fd: fd, key: le32(9) }), -Errno.ENOENT);
    assert.equal(k.bpf('BPF_MAP_LOOKUP_AND_DELETE_ELEM', { map_fd: fd, key: le32(2), value }), 0);
    assert.deepEqual([...value], [20, 0, 0, 0]);
    assert.equal(k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key: le32(2), value }), -Errno.ENOENT);
  });
  it('get-next-key: NULL or a missing key gives the first, the last gives ENOENT', () => {
    const k = new Kernel();
    const fd = k.bpf('BPF_MAP_CREATE', ARRAY);
    const next = new Uint8Array(4);
    assert.equal(k.bpf('BPF_MAP_GET_NEXT_KEY', { map_fd: fd, key: null, next_key: next }), 0);
    assert.deepEqual([...next], [0, 0, 0, 0]);
    assert.equal(k.bpf('BPF_MAP_GET_NEXT_KEY', { map_fd: fd, key: le32(2), next_key: next }), 0);
    assert.deepEqual([...next], [3, 0, 0, 0]);
    assert.equal(k.bpf('BPF_MAP_GET_NEXT_KEY', { map_fd: fd, key: le32(3), next_key: next }), -Errno.ENOENT);
  });
  it('BPF_MAP_FREEZE: later userspace writes give EPERM, a second freeze too (as on this kernel)', () => {
    const k = new Kernel();
    const fd = k.bpf('BPF_MAP_CREATE', ARRAY);
    assert.equal(k.bpf('BPF_MAP_FREEZE', { map_fd: fd }), 0);
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: fd, key: le32(0), value: new Uint8Array(8) }), -Errno.EPERM);
    assert.equal(k.bpf('BPF_MAP_FREEZE', { map_fd: fd }), -Errno.EPERM);
    const value = new Uint8Array(8);
    assert.equal(k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key: le32(0), value }), 0, 'reads still work');
  });
  it('BPF_F_RDONLY and BPF_F_WRONLY restrict the syscall side', () => {
    const k = new Kernel();
    const ro = k.bpf('BPF_MAP_CREATE', { ...ARRAY, map_flags: MapFlag.BPF_F_RDONLY });
    const wo = k.bpf('BPF_MAP_CREATE', { ...ARRAY, map_flags: MapFlag.BPF_F_WRONLY });
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: ro, key: le32(0), value: new Uint8Array(8) }), -Errno.EPERM);
    assert.equal(k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: wo, key: le32(0), value: new Uint8Array(8) }), -Errno.EPERM);
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: wo, key: le32(0), value: new Uint8Array(8) }), 0);
  });
  it('batch lookup walks everything in chunks and ends with ENOENT', () => {
    const k = new Kernel();
    const fd = k.bpf('BPF_MAP_CREATE', { ...HASH, max_entries: 10 });
    const keys = new Uint8Array(40);
    const values = new Uint8Array(40);
    for (let i = 0; i < 7; i++) {
      keys.set(le32(i), 4 * i);
      values.set(le32(i * i), 4 * i);
    }
    const up = { map_fd: fd, keys, values, count: 7 };
    assert.equal(k.bpf('BPF_MAP_UPDATE_BATCH', up), 0);
    assert.equal(up.count, 7);
    const seen = new Map<number, number>();
    let inBatch: Uint8Array | null = null;
    for (let round = 0; round < 10; round++) {
      const a: MapBatchAttr = {
        map_fd: fd,
        in_batch: inBatch,
        out_batch: new Uint8Array(4),
        keys: new Uint8Array(12),
        values: new Uint8Array(12),
        count: 3,
      };
      const r: number = k.bpf('BPF_MAP_LOOKUP_BATCH', a);
      const dv = new DataView(a.keys.buffer);
      const vv = new DataView(a.values!.buffer);
      for (let i = 0; i < a.count; i++) seen.set(dv.getUint32(4 * i, true), vv.getUint32(4 * i, true));
      if (r === -Errno.ENOENT) break;
      assert.equal(r, 0);
      inBatch = a.out_batch!;
    }
    assert.deepEqual(
      [...seen].sort((x, y) => x[0] - y[0]),
      [0, 1, 2, 3, 4, 5, 6].map((i) => [i, i * i]),
    );
    assert.equal(
      k.bpf('BPF_MAP_LOOKUP_BATCH', {
        map_fd: k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_QUEUE, key_size: 0, value_size: 4, max_entries: 2 }),
        keys: new Uint8Array(4),
        values: new Uint8Array(4),
        count: 1,
      }),
      -Errno.ENOTSUPP,
    );
  });
  it('a batch update stops at the first failure and says how far it got', () => {
    const k = new Kernel();
    const fd = k.bpf('BPF_MAP_CREATE', HASH);
    const keys = Uint8Array.from([...le32(1), ...le32(2), ...le32(3)]);
    const a = { map_fd: fd, keys, values: new Uint8Array(12), count: 3 };
    assert.equal(k.bpf('BPF_MAP_UPDATE_BATCH', a), -Errno.E2BIG);
    assert.equal(a.count, 2);
  });
});

describe('programs, pins, ids and lifetimes', () => {
  it('BPF_PROG_LOAD: the legality checks run, the log is filled, ENOSPC when it does not fit', () => {
    const k = new Kernel();
    const log = new Uint8Array(4096);
    const fd = k.bpf('BPF_PROG_LOAD', {
      prog_type: ProgType.BPF_PROG_TYPE_XDP,
      insns: RET0,
      license: 'GPL',
      log_level: 2,
      log_buf: log,
      log_size: log.length,
      prog_name: 'ret0',
    });
    assert.equal(fd, 3);
    const text = new TextDecoder().decode(log.subarray(0, log.indexOf(0)));
    // log_level 2 in the kernel's shape: the state at entry, what each instruction wrote
    assert.match(text, /^0: R1=ctx\(\) R10=fp0\n0: \(b7\) r0 = 0\s+; R0=0\n1: \(95\) exit\nprocessed 2 insns/);
    const small = new Uint8Array(128);
    const many = encode(link([...Array.from({ length: 50 }, () => mov(R0, 0)), exit()]));
    assert.equal(
      k.bpf('BPF_PROG_LOAD', {
        prog_type: ProgType.BPF_PROG_TYPE_XDP,
        insns: many,
        license: 'GPL',
        log_level: 2,
        log_buf: small,
        log_size: 128,
      }),
      -Errno.ENOSPC,
    );
    assert.equal(small[127], 0, 'the truncated log is NUL-terminated');
    const bad = encode(link([mov(R1, 0), exit()]));
    assert.equal(
      k.bpf('BPF_PROG_LOAD', {
        prog_type: ProgType.BPF_PROG_TYPE_XDP,
        insns: bad,
        license: 'GPL',
        log_level: 1,
        log_buf: log,
        log_size: log.length,
      }),
      -Errno.EACCES,
    );
    assert.match(new TextDecoder().decode(log.subarray(0, log.indexOf(0))), /1: \(95\) exit\nR0 !read_ok\n/);
    assert.equal(k.bpf('BPF_PROG_LOAD', { prog_type: 999, insns: RET0, license: 'GPL' }), -Errno.EINVAL);
    assert.equal(
      k.bpf('BPF_PROG_LOAD', { prog_type: 6, insns: RET0, license: 'GPL', log_level: 1, log_buf: log, log_size: 64 }),
      -Errno.EINVAL,
    );
    assert.equal(k.progs.size, 1);
  });
  it('a program holds the maps it references, by fd at load time', () => {
    const k = new Kernel();
    const mfd = k.bpf('BPF_MAP_CREATE', ARRAY);
    const insns = encode(link([lddw(R1, mfd, Pseudo.BPF_PSEUDO_MAP_FD), mov(R0, 0), exit()]));
    const pfd = k.bpf('BPF_PROG_LOAD', { prog_type: ProgType.BPF_PROG_TYPE_XDP, insns, license: 'GPL' });
    assert.ok(pfd > 0);
    const info = { bpf_fd: pfd } as { bpf_fd: number; info?: ProgInfo };
    assert.equal(k.bpf('BPF_OBJ_GET_INFO_BY_FD', info), 0);
    assert.deepEqual(info.info!.map_ids, [1]);
    assert.equal(info.info!.xlated_prog_len, 32); // lddw (2 slots), mov, exit
    k.close(mfd);
    assert.equal(k.maps.size, 1, 'the program keeps the map alive');
    k.close(pfd);
    assert.equal(k.maps.size, 0, 'closing the program frees the map');
    assert.equal(
      k.bpf('BPF_PROG_LOAD', { prog_type: 6, insns: encode(link([lddw(R1, 77, 1), mov(R0, 0), exit()])), license: 'GPL' }),
      -Errno.EBADF,
    );
  });
  it('pins: EEXIST on a taken path, EPERM outside /sys/fs/bpf, objects live while pinned', () => {
    const k = new Kernel();
    const fd = k.bpf('BPF_MAP_CREATE', ARRAY);
    assert.equal(k.bpf('BPF_OBJ_PIN', { pathname: '/sys/fs/bpf/m', bpf_fd: fd }), 0);
    assert.equal(k.bpf('BPF_OBJ_PIN', { pathname: '/sys/fs/bpf/m', bpf_fd: fd }), -Errno.EEXIST);
    assert.equal(k.bpf('BPF_OBJ_PIN', { pathname: '/tmp/m', bpf_fd: fd }), -Errno.EPERM);
    assert.equal(k.bpf('BPF_OBJ_PIN', { pathname: '/sys/fs/bpf/no/dir', bpf_fd: fd }), -Errno.ENOENT);
    k.close(fd);
    assert.equal(k.maps.size, 1);
    const again = k.bpf('BPF_OBJ_GET', { pathname: '/sys/fs/bpf/m' });
    assert.equal(again, 3);
    assert.equal(k.bpf('BPF_OBJ_GET', { pathname: '/sys/fs/bpf/none' }), -Errno.ENOENT);
    assert.equal(k.unlink('/sys/fs/bpf/m'), 0);
    assert.equal(k.maps.size, 1, 'the fd still holds it');
    k.close(again);
    assert.equal(k.maps.size, 0);
  });
  it('a read-only fd from BPF_OBJ_GET cannot update', () => {
    const k = new Kernel();
    const fd = k.bpf('BPF_MAP_CREATE', ARRAY);
    k.bpf('BPF_OBJ_PIN', { pathname: '/sys/fs/bpf/m', bpf_fd: fd });
    const ro = k.bpf('BPF_OBJ_GET', { pathname: '/sys/fs/bpf/m', file_flags: MapFlag.BPF_F_RDONLY });
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: ro, key: le32(0), value: new Uint8Array(8) }), -Errno.EPERM);
    assert.equal(k.bpf('BPF_OBJ_GET', { pathname: '/sys/fs/bpf/m', file_flags: 3 << 3 }), -Errno.EINVAL);
  });
  it('ids: GET_NEXT_ID walks them, GET_FD_BY_ID opens them, both ENOENT past the end', () => {
    const k = new Kernel();
    k.bpf('BPF_MAP_CREATE', ARRAY);
    k.bpf('BPF_MAP_CREATE', HASH);
    const ids: number[] = [];
    const a = { start_id: 0, next_id: 0 };
    while (k.bpf('BPF_MAP_GET_NEXT_ID', a) === 0) {
      ids.push(a.next_id);
      a.start_id = a.next_id;
    }
    assert.deepEqual(ids, [1, 2]);
    const fd = k.bpf('BPF_MAP_GET_FD_BY_ID', { map_id: 2 });
    const info = { bpf_fd: fd } as { bpf_fd: number; info?: MapInfo };
    k.bpf('BPF_OBJ_GET_INFO_BY_FD', info);
    assert.deepEqual(
      { ...info.info, bytes_memlock: 0 },
      {
        kind: 'map',
        type: 1,
        id: 2,
        key_size: 4,
        value_size: 4,
        max_entries: 2,
        map_flags: 0,
        name: 'h',
        map_extra: 0,
        frozen: false,
        bytes_memlock: 0,
      },
    );
    assert.equal(k.bpf('BPF_MAP_GET_FD_BY_ID', { map_id: 9 }), -Errno.ENOENT);
    assert.equal(k.bpf('BPF_PROG_GET_NEXT_ID', { start_id: 0 }), -Errno.ENOENT);
  });
  it('a process exiting closes its fds; objects it alone held are freed', () => {
    const k = new Kernel();
    const p = k.spawn();
    p.bpf('BPF_MAP_CREATE', ARRAY);
    const pinned = p.bpf('BPF_MAP_CREATE', HASH);
    p.bpf('BPF_OBJ_PIN', { pathname: '/sys/fs/bpf/h', bpf_fd: pinned });
    p.exit();
    assert.deepEqual([...k.maps.keys()], [2]);
  });
  it('prog arrays hold programs by fd and return their ids; map-of-maps hold inner maps', () => {
    const k = new Kernel();
    const pa = k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_PROG_ARRAY, key_size: 4, value_size: 4, max_entries: 4 });
    const prog = k.bpf('BPF_PROG_LOAD', { prog_type: ProgType.BPF_PROG_TYPE_XDP, insns: RET0, license: 'GPL' });
    const other = k.bpf('BPF_PROG_LOAD', { prog_type: ProgType.BPF_PROG_TYPE_SOCKET_FILTER, insns: RET0, license: 'GPL' });
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: pa, key: le32(1), value: le32(prog) }), 0);
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: pa, key: le32(2), value: le32(other) }), -Errno.EINVAL, 'program type must match');
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: pa, key: le32(2), value: le32(99) }), -Errno.EBADF);
    const v = new Uint8Array(4);
    assert.equal(k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: pa, key: le32(1), value: v }), 0);
    assert.equal(new DataView(v.buffer).getUint32(0, true), k.progs.get([...k.progs.keys()][0])!.id);
    k.close(prog);
    assert.equal(k.progs.size, 2, 'the prog array slot holds the program');
    k.bpf('BPF_MAP_DELETE_ELEM', { map_fd: pa, key: le32(1) });
    assert.equal(k.progs.size, 1);

    const inner = k.bpf('BPF_MAP_CREATE', ARRAY);
    const outer = k.bpf('BPF_MAP_CREATE', {
      map_type: MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS,
      key_size: 4,
      value_size: 4,
      max_entries: 2,
      inner_map_fd: inner,
    });
    assert.ok(outer > 0);
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: outer, key: le32(0), value: le32(inner) }), 0);
    assert.equal(k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: outer, key: le32(0), value: v }), 0);
    const innerId = [...k.maps.values()].find((m) => m.spec.name === 'arr')!.id;
    assert.equal(new DataView(v.buffer).getUint32(0, true), innerId);
    const wrong = k.bpf('BPF_MAP_CREATE', HASH);
    assert.equal(k.bpf('BPF_MAP_UPDATE_ELEM', { map_fd: outer, key: le32(1), value: le32(wrong) }), -Errno.EINVAL);
    assert.equal(
      k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS, key_size: 4, value_size: 4, max_entries: 2 }),
      -Errno.EINVAL,
    );
  });
});
