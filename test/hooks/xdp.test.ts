import assert from 'node:assert/strict';
import { XDP_FRAME_SIZE, XDP_TAILROOM, type XdpFrame, adjustHead, adjustMeta, adjustTail } from '../../hooks/xdp.js';
import { ETH_HLEN } from '../../uapi/ethernet.js';
import { XDP_PACKET_HEADROOM } from '../../uapi/xdp.js';

const frame = (len: number): XdpFrame => {
  const hardStart = 4096;
  const data = hardStart + XDP_PACKET_HEADROOM;
  return { hardStart, end: data + len + XDP_TAILROOM + 100, data, dataEnd: data + len, dataMeta: data };
};

describe('XDP frame adjustments (the kernel limits)', () => {
  it('adjust_head may grow into the headroom down to the xdp_frame, not further', () => {
    const f = frame(64);
    assert.equal(
      adjustHead(f, -(XDP_PACKET_HEADROOM - XDP_FRAME_SIZE), () => undefined),
      0,
    );
    assert.equal(f.data, f.hardStart + XDP_FRAME_SIZE);
    assert.equal(
      adjustHead(f, -1, () => undefined),
      -22,
    );
  });
  it('adjust_head may shrink the packet to an Ethernet header, not below', () => {
    const f = frame(64);
    assert.equal(
      adjustHead(f, 64 - ETH_HLEN, () => undefined),
      0,
    );
    assert.equal(f.dataEnd - f.data, ETH_HLEN);
    assert.equal(
      adjustHead(f, 1, () => undefined),
      -22,
    );
  });
  it('adjust_tail keeps an Ethernet header and the tailroom', () => {
    const f = frame(64);
    assert.equal(
      adjustTail(f, -(64 - ETH_HLEN), () => undefined),
      0,
    );
    assert.equal(
      adjustTail(f, -1, () => undefined),
      -22,
    );
    const g = frame(64);
    assert.equal(
      adjustTail(g, 100, () => undefined),
      0,
    );
    assert.equal(
      adjustTail(g, 1, () => undefined),
      -22,
      'the tailroom is full',
    );
  });
  it('adjust_meta: 4-byte steps (else EACCES) between the xdp_frame and data (else EINVAL)', () => {
    // kernel 6.18 (bpftool prog run): -216 succeeds, -252 is EINVAL, -6 EACCES, +4 EINVAL
    const f = frame(64);
    assert.equal(adjustMeta(f, -6), -13, 'not a multiple of 4');
    assert.equal(adjustMeta(f, 4), -22, 'after data');
    assert.equal(adjustMeta(f, -252), -22, 'into the xdp_frame');
    assert.equal(adjustMeta(f, -(XDP_PACKET_HEADROOM - XDP_FRAME_SIZE)), 0);
    assert.equal(f.data - f.dataMeta, 216);
    assert.equal(adjustMeta(f, 216), 0);
  });
  it('adjust_meta: at most 255 bytes, wherever the xdp_frame is', () => {
    const f = { ...frame(64), hardStart: 0 };
    assert.equal(adjustMeta(f, -252), 0);
    assert.equal(adjustMeta(f, -4), -13, '256 bytes');
  });
  it("adjust_tail on a multi-buffer frame grows only within the last fragment's page", () => {
    const f: XdpFrame = { ...frame(100), frags: new Uint8Array(5000), fragSizes: [4096, 904] };
    assert.equal(
      adjustTail(f, 4096 - 904 + 1, () => undefined),
      -22,
    );
    assert.equal(
      adjustTail(f, 4096 - 904, () => undefined),
      0,
    );
    assert.deepEqual(f.fragSizes, [4096, 4096]);
    assert.equal(
      adjustTail(f, 1, () => undefined),
      -22,
      'the last page is full',
    );
    assert.equal(
      adjustTail(f, -4097, () => undefined),
      0,
      'the last fragment goes, one byte of the next',
    );
    assert.deepEqual(f.fragSizes, [4095]);
    assert.equal(
      adjustTail(f, 1, () => undefined),
      0,
    );
    assert.equal(
      adjustTail(f, -(4096 + 100 - ETH_HLEN) - 1, () => undefined),
      -22,
      'below an Ethernet header',
    );
    assert.equal(
      adjustTail(f, -(4096 + 100 - ETH_HLEN), () => undefined),
      0,
    );
    assert.equal(f.dataEnd - f.data, ETH_HLEN);
  });
});
