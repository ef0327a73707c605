import assert from 'node:assert/strict';
import { Errno } from '../../uapi/errno.js';
import { MapFlag, MapType, UpdateFlag } from '../../uapi/mapType.js';
import { errnoOf, le32, newMap, u32of } from './support.js';

const LPM = { type: MapType.BPF_MAP_TYPE_LPM_TRIE, keySize: 8, valueSize: 4, maxEntries: 10, flags: MapFlag.BPF_F_NO_PREALLOC, name: 'l' };
const key = (plen: number, ...ip: number[]) => Uint8Array.from([plen, 0, 0, 0, ...ip]);

describe('BPF_MAP_TYPE_LPM_TRIE', () => {
  it('matches the longest prefix (the same sequence bpftool ran against this kernel)', () => {
    const m = newMap(LPM);
    m.updateBytes(key(8, 10, 0, 0, 0), le32(1), 0);
    m.updateBytes(key(24, 10, 1, 2, 0), le32(2), 0);
    assert.equal(
      errnoOf(() => m.updateBytes(key(33, 10, 1, 2, 0), le32(2), 0)),
      Errno.EINVAL,
    );
    assert.equal(u32of(m.lookupBytes(key(32, 10, 1, 2, 3))), 2);
    assert.equal(u32of(m.lookupBytes(key(32, 10, 9, 2, 3))), 1);
    assert.equal(
      errnoOf(() => m.lookupBytes(key(32, 11, 9, 2, 3))),
      Errno.ENOENT,
    );
    // post order: the /24 before the /8, then the end
    assert.deepEqual([...m.nextKey(null)], [...key(24, 10, 1, 2, 0)]);
    assert.deepEqual([...m.nextKey(key(24, 10, 1, 2, 0))], [...key(8, 10, 0, 0, 0)]);
    assert.equal(
      errnoOf(() => m.nextKey(key(8, 10, 0, 0, 0))),
      Errno.ENOENT,
    );
  });
  it('ENOSPC when full, EEXIST/ENOENT with the update flags, ENOENT deleting a missing prefix', () => {
    const m = newMap({ ...LPM, maxEntries: 1 });
    m.updateBytes(key(8, 10, 0, 0, 0), le32(1), 0);
    assert.equal(
      errnoOf(() => m.updateBytes(key(16, 10, 1, 0, 0), le32(1), 0)),
      Errno.ENOSPC,
    );
    assert.equal(
      errnoOf(() => m.updateBytes(key(8, 10, 0, 0, 0), le32(2), UpdateFlag.BPF_NOEXIST)),
      Errno.EEXIST,
    );
    assert.equal(
      errnoOf(() => m.deleteBytes(key(8, 11, 0, 0, 0))),
      Errno.ENOENT,
    );
  });
  it('needs BPF_F_NO_PREALLOC', () => {
    assert.equal(
      errnoOf(() => newMap({ ...LPM, flags: 0 })),
      Errno.EINVAL,
    );
  });
  it('agrees with a brute-force longest-prefix scan over random inserts, deletes and lookups', () => {
    const m = newMap({ ...LPM, maxEntries: 200 });
    const ref = new Map<string, { plen: number; ip: number; value: number }>();
    let seed = 3;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const mask = (plen: number) => (plen === 0 ? 0 : (0xffffffff << (32 - plen)) >>> 0);
    const ipBytes = (ip: number) => [ip >>> 24, (ip >>> 16) & 0xff, (ip >>> 8) & 0xff, ip & 0xff];
    const best = (ip: number) => {
      let found: { plen: number; value: number } | undefined;
      for (const e of ref.values()) if ((ip & mask(e.plen)) >>> 0 === e.ip && (!found || e.plen > found.plen)) found = e;
      return found?.value;
    };
    for (let i = 0; i < 6000; i++) {
      const plen = rand(33);
      // few distinct high bits so that prefixes nest and split often
      const ip = ((rand(4) << 30) | (rand(4) << 20) | rand(1 << 20)) >>> 0;
      const net = (ip & mask(plen)) >>> 0;
      const id = `${net}/${plen}`;
      const op = rand(3);
      if (op === 0) {
        const full = !ref.has(id) && ref.size >= 200;
        assert.equal(
          errnoOf(() => m.updateBytes(key(plen, ...ipBytes(net)), le32(i), 0)),
          full ? Errno.ENOSPC : 0,
        );
        if (!full) ref.set(id, { plen, ip: net, value: i });
      } else if (op === 1) {
        assert.equal(
          errnoOf(() => m.deleteBytes(key(plen, ...ipBytes(net)))),
          ref.has(id) ? 0 : Errno.ENOENT,
          `delete ${id}`,
        );
        ref.delete(id);
      } else {
        const want = best(ip);
        const got =
          want === undefined ? errnoOf(() => m.lookupBytes(key(32, ...ipBytes(ip)))) : u32of(m.lookupBytes(key(32, ...ipBytes(ip))));
        assert.equal(got, want ?? Errno.ENOENT, `lookup ${ip}`);
      }
    }
    assert.equal(m.count, ref.size);
    const walked = [...m.entries()].map(([k]) => `${new DataView(k.buffer).getUint32(4)}/${k[0]}`).sort();
    assert.deepEqual(walked, [...ref.keys()].sort());
  });
});

describe('BPF_MAP_TYPE_LPM_TRIE with other key widths', () => {
  // prefixes over `bytes` bytes of data, compared against a brute-force scan
  for (const bytes of [3, 4, 16]) {
    it(`${bytes}-byte data agrees with a brute-force scan`, () => {
      const m = newMap({ ...LPM, keySize: 4 + bytes, maxEntries: 300 });
      let seed = bytes;
      const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
      const bits = 8 * bytes;
      const ref: { plen: number; data: number[]; value: number }[] = [];
      const bit = (d: number[], i: number) => (d[i >> 3] >> (7 - (i & 7))) & 1;
      const masked = (d: number[], plen: number) =>
        d.map((b, i) => (i * 8 >= plen ? 0 : i * 8 + 8 <= plen ? b : b & (0xff << (8 - (plen - i * 8))) & 0xff));
      const covers = (e: { plen: number; data: number[] }, d: number[]) => {
        for (let i = 0; i < e.plen; i++) if (bit(e.data, i) !== bit(d, i)) return false;
        return true;
      };
      // a few shared leading bytes so prefixes nest
      const randData = () => Array.from({ length: bytes }, (_, i) => (i < bytes - 2 ? rand(2) * 0x80 : rand(256)));
      for (let i = 0; i < 250; i++) {
        const plen = rand(bits + 1);
        const data = masked(randData(), plen);
        const dup = ref.find((e) => e.plen === plen && e.data.join() === data.join());
        m.updateBytes(Uint8Array.from([plen, 0, 0, 0, ...data]), le32(i), 0);
        if (dup) dup.value = i;
        else ref.push({ plen, data, value: i });
      }
      for (let i = 0; i < 2000; i++) {
        const d = randData();
        let best: { plen: number; value: number } | undefined;
        for (const e of ref) if (covers(e, d) && (!best || e.plen > best.plen)) best = e;
        const key = Uint8Array.from([bits, 0, 0, 0, ...d]);
        const got = best === undefined ? errnoOf(() => m.lookupBytes(key)) : u32of(m.lookupBytes(key));
        assert.equal(got, best?.value ?? Errno.ENOENT, `lookup ${d.join('.')}`);
      }
      assert.equal(m.count, ref.length);
    });
  }
});
