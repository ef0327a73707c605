import assert from 'node:assert/strict';
import type { TypeDesc } from '../../maps/typeDesc.js';
import { decodeValue, encodeValue } from '../../lib/typedValue.js';

/** struct flow { __u16 port; __s8 delta; enum { UP = 1, DOWN = 7 } state (u8); __u32 addr[2]; __u8 bits : 3 (at bit 96); void *p; } */
const FLOW: TypeDesc = {
  k: 'struct',
  size: 24,
  name: 'flow',
  members: [
    { name: 'port', bitOffset: 0, type: { k: 'int', size: 2, signed: false } },
    { name: 'delta', bitOffset: 16, type: { k: 'int', size: 1, signed: true } },
    {
      name: 'state',
      bitOffset: 24,
      type: {
        k: 'enum',
        size: 1,
        values: [
          ['UP', 1],
          ['DOWN', 7],
        ],
      },
    },
    { name: 'addr', bitOffset: 32, type: { k: 'array', n: 2, elem: { k: 'int', size: 4, signed: false } } },
    { name: 'bits', bitOffset: 97, bitSize: 3, type: { k: 'int', size: 1, signed: false } },
    { name: 'p', bitOffset: 128, type: { k: 'raw', size: 8 } },
  ],
};

describe('lib: typed values', () => {
  it('encodes a struct to the bytes a C compiler lays out (hand-computed), and decodes them back as map dump shows them', () => {
    const bytes = encodeValue(FLOW, {
      port: 0x1234,
      delta: -2,
      state: 'DOWN',
      addr: [1, 0x0a000001],
      bits: 5,
      p: new Uint8Array(8).fill(0xee),
    });
    assert.deepEqual(
      [...bytes],
      [0x34, 0x12, 0xfe, 7, 1, 0, 0, 0, 1, 0, 0, 0x0a, 5 << 1, 0, 0, 0, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee],
    );
    assert.deepEqual(decodeValue(FLOW, bytes), {
      port: 0x1234n,
      delta: -2n,
      state: 'DOWN',
      addr: [1n, 0x0a000001n],
      bits: 5n,
      p: Array(8).fill('0xee'),
    });
    // what decodeValue gives, encodeValue takes back byte for byte
    assert.deepEqual(encodeValue(FLOW, decodeValue(FLOW, bytes)), bytes);
  });

  it('refuses what does not fit, naming the member', () => {
    assert.throws(
      () => encodeValue(FLOW, { port: 70000 }),
      /^Error: value.port: 70000 does not fit 2 bytes$|value.port: 70000 does not fit 2 bytes/,
    );
    assert.throws(() => encodeValue(FLOW, { delta: 128 }), /value.delta: 128 does not fit 1 byte \(signed\)/);
    assert.throws(() => encodeValue(FLOW, { bits: 8 }), /value.bits: 8 does not fit 3 bits/);
    assert.throws(() => encodeValue(FLOW, { state: 'SIDEWAYS' }), /value.state: SIDEWAYS is not a value of the enum/);
    assert.throws(() => encodeValue(FLOW, { nope: 1 }), /value: struct flow has no member nope/);
    assert.throws(() => encodeValue(FLOW, { addr: [1, 2, 3] }), /value.addr: 3 elements do not fit 2/);
  });
});
