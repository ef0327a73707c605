import assert from 'node:assert/strict';
import { ETH_HLEN, XDP_FRAME_SIZE, XDP_PACKET_HEADROOM, XDP_TAILROOM, type XdpFrame, adjustHead, adjustMeta, adjustTail } from '../../hooks/xdp.js';

const frame = (len: number): XdpFrame => {
  const hardStart = 4096;
  const data = hardStart + XDP_PACKET_HEADROOM;
  return { hardStart, end: data + len + XDP_TAILROOM + 100, data, dataEnd: data + len, dataMeta: data };
};

describe('XDP frame adjustments (the kernel limits)', () => {
  it('adjust_head may grow into the headroom down to the xdp_frame, not further', () => {
    const f = frame(64);
    assert.equal(adjustHead(f, -(XDP_PACKET_HEADROOM - XDP_FRAME_SIZE), () => undefined), 0);
    assert.equal(f.data, f.hardStart + XDP_FRAME_SIZE);
    assert.equal(adjustHead(f, -1, () => undefined), -22);
  });
  it('adjust_head may shrink the packet to an Ethernet header, not below', () => {
    const f = frame(64);
    assert.equal(adjustHead(f, 64 - ETH_HLEN, () => undefined), 0);
    assert.equal(f.dataEnd - f.data, ETH_HLEN);
    assert.equal(adjustHead(f, 1, () => undefined), -22);
  });
  it('adjust_tail keeps an Ethernet header and the tailroom', () => {
    const f = frame(64);
    assert.equal(adjustTail(f, -(64 - ETH_HLEN), () => undefined), 0);
    assert.equal(adjustTail(f, -1, () => undefined), -22);
    const g = frame(64);
    assert.equal(adjustTail(g, 100, () => undefined), 0);
    assert.equal(adjustTail(g, 1, () => undefined), -22, 'the tailroom is full');
  });
  it('adjust_meta: up to 32 bytes before data, in 4-byte steps', () => {
    const f = frame(64);
    assert.equal(adjustMeta(f, -32), 0);
    assert.equal(adjustMeta(f, -4), -22, 'more than 32 bytes');
    assert.equal(adjustMeta(f, 2), -22, 'not a multiple of 4');
    assert.equal(adjustMeta(f, 32), 0);
    assert.equal(adjustMeta(f, 4), -22, 'after data');
  });
});
