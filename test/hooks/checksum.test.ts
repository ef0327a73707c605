import assert from 'node:assert/strict';
import { addPartial, csumDiff, fold16, ipChecksum, replaceChecksum, swap16 } from '../../hooks/helpers/checksum.js';

describe('checksum arithmetic (hand-computed, RFC 1071 and RFC 1624)', () => {
  // The IPv4 header of RFC 1071's worked example family: 45 00 00 73 00 00 40 00 40 11 [b8 61] c0 a8 00 01 c0 a8 00 c7
  const header = Uint8Array.from([0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 0xc0, 0xa8, 0, 1, 0xc0, 0xa8, 0, 0xc7]);
  it('an IPv4 header checksum from scratch: 0xb861', () => {
    // 4500+0073+0000+4000+4011+c0a8+0001+c0a8+00c7 = 0x2479c; fold: 0x479c + 2 = 0x479e; ~ = 0xb861
    assert.equal(ipChecksum(header), 0xb861);
  });
  it('fold16 adds the carries back in', () => {
    assert.equal(fold16(0x2479c), 0x479e);
    assert.equal(fold16(0x1ffff), 0x0001 + 0xffff - 0xffff + 0); // 0x1ffff -> 0xffff+1 = 0x10000 -> 0x0001
  });
  it('RFC 1624: changing the TTL from 0x40 to 0x3f updates 0xb861 to 0xb961', () => {
    // the 16-bit word holding TTL and protocol goes from 0x4011 to 0x3f11: HC' = ~(~HC + ~m + m')
    // ~0xb861 = 0x479e; ~0x4011 = 0xbfee; 0x479e + 0xbfee + 0x3f11 = 0x1469d -> 0x469e; ~ = 0xb961
    assert.equal(replaceChecksum(0xb861, 0x4011, 0x3f11, 2), 0xb961);
    const changed = Uint8Array.from(header);
    changed[8] = 0x3f;
    assert.equal(ipChecksum(changed), 0xb961, 'the incremental result equals a recomputation');
  });
  it('a 4-byte change (a new source address) equals a recomputation', () => {
    const changed = Uint8Array.from(header);
    changed.set([10, 0, 0, 1], 12);
    assert.equal(replaceChecksum(0xb861, 0xc0a80001, 0x0a000001, 4), ipChecksum(changed));
  });
  it('csum_diff of a 4-byte change, folded into the checksum, equals a recomputation', () => {
    const from = Uint8Array.from([0xc0, 0xa8, 0, 1]);
    const to = Uint8Array.from([10, 0, 0, 1]);
    const changed = Uint8Array.from(header);
    changed.set(to, 12);
    // the stored checksum is bytes b8 61, which x86 reads as 0x61b8; the result comes back in that order
    assert.equal(swap16(addPartial(swap16(0xb861), csumDiff(from, to, 0))), ipChecksum(changed));
  });
  it('csum_diff of nothing is the seed; of equal buffers a ones-complement zero', () => {
    assert.equal(csumDiff(new Uint8Array(0), new Uint8Array(0), 1234), 1234);
    assert.equal(fold16(csumDiff(Uint8Array.from([1, 2, 3, 4]), Uint8Array.from([1, 2, 3, 4]), 0)), 0xffff);
  });
});
