import assert from 'node:assert/strict';
import { ProgType } from '../../uapi/progType.js';
import { encode } from '../../vm/decode.js';
import { type Instruction, insn } from '../../vm/instruction.js';
import { verdict } from '../support/verdict.js';
import { kernelProbeForSuite } from '../support/kernelProbe.js';

/**
 * Differential: programs with branches and bounded loops through the kernel's verifier and
 * bpfbox's path walk: errors on one path only, branches the bounds decide (their dead side is
 * not checked), refinement that makes an access safe, loops that end.
 */
const SOCK = ProgType.BPF_PROG_TYPE_SOCKET_FILTER;
const len = insn(0x61, 2, 1, 0, 0); // r2 = skb->len (unknown u32)
const exit0 = [insn(0xb7, 0, 0, 0, 0), insn(0x95, 0, 0, 0, 0)];
const PROBES: [string, Instruction[]][] = [
  ['a misaligned store on the taken side only', [len, insn(0x25, 2, 0, 1, 100), insn(0x62, 10, 0, -6, 0), ...exit0]],
  [
    'the same, on the fall-through side',
    [len, insn(0x25, 2, 0, 2, 100), insn(0xb7, 0, 0, 0, 0), insn(0x95, 0, 0, 0, 0), insn(0x62, 10, 0, -6, 0), ...exit0],
  ],
  ['r0 unset on one path', [len, insn(0x15, 2, 0, 1, 7), insn(0xb7, 0, 0, 0, 1), insn(0x95, 0, 0, 0, 0)]],
  [
    'a branch the constant decides: its other side is dead',
    [insn(0xb7, 2, 0, 0, 5), insn(0x25, 2, 0, 1, 10), insn(0x05, 0, 0, 1, 0), insn(0x62, 10, 0, -6, 0), ...exit0],
  ],
  [
    'a 32-bit branch the constant decides',
    [insn(0xb7, 2, 0, 0, -1), insn(0x26, 2, 0, 1, 10), insn(0x05, 0, 0, 1, 0), insn(0x62, 10, 0, -6, 0), ...exit0],
  ],
  [
    'bounds from a branch make a ctx read safe? (no: ctx offsets are constant)',
    [len, insn(0x25, 2, 0, 1, 4), insn(0x0f, 1, 2, 0, 0), ...exit0],
  ],
  ['a bounded loop of 10', [insn(0xb7, 2, 0, 0, 0), insn(0x07, 2, 0, 0, 1), insn(0xa5, 2, 0, -2, 10), ...exit0]],
  [
    'a bounded loop of 1000 with a stack store',
    [insn(0xb7, 2, 0, 0, 0), insn(0x7b, 10, 2, -8, 0), insn(0x07, 2, 0, 0, 1), insn(0xa5, 2, 0, -3, 1000), ...exit0],
  ],
  [
    'a loop whose exit test uses an unknown bound',
    [len, insn(0x57, 2, 0, 0, 15), insn(0xb7, 3, 0, 0, 0), insn(0x07, 3, 0, 0, 1), insn(0x2d, 2, 3, -2, 0), ...exit0],
  ],
  [
    'jset: a bit known clear',
    [len, insn(0x57, 2, 0, 0, 0xfe), insn(0x45, 2, 0, 1, 1), insn(0x05, 0, 0, 1, 0), insn(0x62, 10, 0, -6, 0), ...exit0],
  ],
  ['signed: negative after a signed test', [len, insn(0x65, 2, 0, 1, 0), insn(0x62, 10, 0, -6, 0), ...exit0]],
  ['an error after a join of two paths', [len, insn(0x15, 2, 0, 1, 3), insn(0xb7, 3, 0, 0, 1), insn(0x07, 3, 0, 0, 1), ...exit0]],
];

describe('differential: the verifier path walk agrees with the kernel on branches and loops', function () {
  this.timeout(60_000);
  const probe = kernelProbeForSuite('path walk differential');

  it('each probe: the same decision, errno and message', () => {
    const kernel = probe().ask(PROBES.map(([, p]) => [SOCK, encode(p)] as const));
    const mismatches: string[] = [];
    let modelled = 0;
    PROBES.forEach(([what, p], i) => {
      const ours = verdict(p, SOCK);
      if (ours === undefined) return;
      modelled++;
      if (ours !== kernel[i]) mismatches.push(`${what}: kernel "${kernel[i]}", bpfbox "${ours}"`);
    });
    assert.deepEqual(mismatches, []);
    assert.ok(modelled >= PROBES.length - 1, `${modelled} of ${PROBES.length} modelled`);
  });
});

describe('differential: packet bounds checks in the path walk agree with the kernel', function () {
  this.timeout(60_000);
  const XDP = ProgType.BPF_PROG_TYPE_XDP;
  const TC = ProgType.BPF_PROG_TYPE_SCHED_CLS;
  // r2 = data, r3 = data_end (XDP: offsets 0 and 4; tc: 76 and 80)
  const ptrs = (t: number) =>
    t === XDP ? [insn(0x61, 2, 1, 0, 0), insn(0x61, 3, 1, 4, 0)] : [insn(0x61, 2, 1, 76, 0), insn(0x61, 3, 1, 80, 0)];
  const exit0 = [insn(0xb7, 0, 0, 0, 0), insn(0x95, 0, 0, 0, 0)];
  const JMP: Readonly<Record<string, number>> = { '>': 0x2d, '>=': 0x3d, '<': 0xad, '<=': 0xbd };
  const probes: [string, number, Instruction[]][] = [];
  for (const t of [XDP, TC]) {
    for (const n of [14, 34]) {
      for (const [rel, code] of Object.entries(JMP)) {
        for (const swap of [false, true]) {
          for (const at of [0, n - 1, n - 4, n]) {
            for (const size of [1, 4]) {
              // r4 = data + n; if (r4 REL r3) / (r3 REL r4) goto out; load at data + at; out: exit
              const cmp = swap ? insn(code, 3, 4, 2, 0) : insn(code, 4, 3, 2, 0);
              const load = insn(size === 1 ? 0x71 : 0x61, 5, 2, at, 0);
              probes.push([
                `${t === XDP ? 'xdp' : 'tc'} data+${n} ${swap ? `end ${rel} pkt` : `pkt ${rel} end`}, load ${size} at ${at} on the fall-through`,
                t,
                [...ptrs(t), insn(0xbf, 4, 2, 0, 0), insn(0x07, 4, 0, 0, n), cmp, load, insn(0x05, 0, 0, 0, 0), ...exit0],
              ]);
              probes.push([
                `${t === XDP ? 'xdp' : 'tc'} data+${n} ${swap ? `end ${rel} pkt` : `pkt ${rel} end`}, load ${size} at ${at} when taken`,
                t,
                [
                  ...ptrs(t),
                  insn(0xbf, 4, 2, 0, 0),
                  insn(0x07, 4, 0, 0, n),
                  swap ? insn(code, 3, 4, 1, 0) : insn(code, 4, 3, 1, 0),
                  insn(0x05, 0, 0, 1, 0),
                  load,
                  ...exit0,
                ],
              ]);
            }
          }
        }
      }
    }
    probes.push([`${t === XDP ? 'xdp' : 'tc'}: a load with no check`, t, [...ptrs(t), insn(0x71, 5, 2, 0, 0), ...exit0]]);
    probes.push([
      `${t === XDP ? 'xdp' : 'tc'}: a store after a check`,
      t,
      [...ptrs(t), insn(0xbf, 4, 2, 0, 0), insn(0x07, 4, 0, 0, 14), insn(0x2d, 4, 3, 1, 0), insn(0x72, 2, 0, 12, 1), ...exit0],
    ]);
    probes.push([`${t === XDP ? 'xdp' : 'tc'}: a load through data_end`, t, [...ptrs(t), insn(0x71, 5, 3, 0, 0), ...exit0]]);
    probes.push([`${t === XDP ? 'xdp' : 'tc'}: arithmetic on data_end`, t, [...ptrs(t), insn(0x07, 3, 0, 0, -1), ...exit0]]);
    if (t === XDP) {
      for (const helper of [44, 54, 65]) {
        probes.push([
          `xdp: a checked pointer used after helper ${helper} moved the packet`,
          t,
          [
            ...ptrs(t),
            insn(0xbf, 6, 2, 0, 0),
            insn(0xbf, 4, 2, 0, 0),
            insn(0x07, 4, 0, 0, 14),
            insn(0x2d, 4, 3, 4, 0),
            insn(0xb7, 2, 0, 0, 0),
            insn(0x85, 0, 0, 0, helper),
            insn(0x71, 5, 6, 0, 0),
            ...exit0,
          ],
        ]);
        probes.push([
          `xdp: helper ${helper}, then data reloaded and checked`,
          t,
          [
            insn(0xbf, 6, 1, 0, 0),
            insn(0xb7, 2, 0, 0, 0),
            insn(0x85, 0, 0, 0, helper),
            insn(0x61, 2, 6, 0, 0),
            insn(0x61, 3, 6, 4, 0),
            insn(0xbf, 4, 2, 0, 0),
            insn(0x07, 4, 0, 0, 14),
            insn(0x2d, 4, 3, 1, 0),
            insn(0x71, 5, 2, 13, 0),
            ...exit0,
          ],
        ]);
      }
      probes.push([
        'xdp: helper 44 with r1 not the context',
        t,
        [insn(0xb7, 1, 0, 0, 0), insn(0xb7, 2, 0, 0, 0), insn(0x85, 0, 0, 0, 44), ...exit0],
      ]);
    }
    probes.push([
      `${t === XDP ? 'xdp' : 'tc'}: a checked pointer spilled and filled`,
      t,
      [
        ...ptrs(t),
        insn(0xbf, 4, 2, 0, 0),
        insn(0x07, 4, 0, 0, 14),
        insn(0x7b, 10, 2, -8, 0),
        insn(0x2d, 4, 3, 2, 0),
        insn(0x79, 6, 10, -8, 0),
        insn(0x71, 5, 6, 13, 0),
        ...exit0,
      ],
    ]);
  }
  const probe = kernelProbeForSuite('verifier walk differential');

  it(`every comparison form, both sides, loads at the edge of the proven range`, () => {
    const kernel = probe().ask(probes.map(([, t, p]) => [t, encode(p)] as const));
    const mismatches: string[] = [];
    let modelled = 0;
    let refused = 0;
    probes.forEach(([what, t, p], i) => {
      const ours = verdict(p, t);
      if (ours === undefined) return;
      modelled++;
      if (ours !== 'ok') refused++;
      if (ours !== kernel[i]) mismatches.push(`${what}: kernel "${kernel[i]}", bpfbox "${ours}"`);
    });
    assert.deepEqual(mismatches.slice(0, 20), []);
    assert.equal(modelled, probes.length);
    assert.ok(refused > 20 && refused < probes.length - 20, 'both answers occur');
  });
});

describe('differential: map lookups and their NULL checks in the path walk agree with the kernel', function () {
  this.timeout(60_000);
  const SOCK = ProgType.BPF_PROG_TYPE_SOCKET_FILTER;
  // map 0: array (key 4, value 16); map 1: hash (key 8, value 8) — test/differential/c/ctx_probe.c makes them
  const ldMap = (r: number, n: number) => insn(0x18, r, 1, 0, BigInt(n));
  const exit0 = [insn(0xb7, 0, 0, 0, 0), insn(0x95, 0, 0, 0, 0)];
  const lookup = (map: number, keyAt: number) => [
    insn(0x7a, 10, 0, -8, 0),
    insn(0xbf, 2, 10, 0, 0),
    insn(0x07, 2, 0, 0, keyAt),
    ldMap(1, map),
    insn(0x85, 0, 0, 0, 1),
  ];
  const probes: [string, Instruction[]][] = [];
  for (const [map, vs] of [
    [0, 16],
    [1, 8],
  ]) {
    for (const at of [-4, 0, 4, vs - 8, vs - 4, vs - 1, vs]) {
      for (const size of [1, 4, 8]) {
        const ld = size === 1 ? 0x71 : size === 4 ? 0x61 : 0x79;
        probes.push([
          `map ${map}: load ${size} at ${at} after the check`,
          [...lookup(map, -8), insn(0x15, 0, 0, 1, 0), insn(ld, 3, 0, at, 0), ...exit0],
        ]);
        probes.push([
          `map ${map}: store ${size} at ${at} after a != check`,
          [...lookup(map, -8), insn(0x55, 0, 0, 1, 0), insn(0x05, 0, 0, 1, 0), insn(ld + 2, 0, 10, at, 0), ...exit0],
        ]);
      }
    }
    probes.push([`map ${map}: load without the check`, [...lookup(map, -8), insn(0x79, 3, 0, 0, 0), ...exit0]]);
    probes.push([
      `map ${map}: through a copy made before the check`,
      [...lookup(map, -8), insn(0xbf, 6, 0, 0, 0), insn(0x15, 0, 0, 1, 0), insn(0x71, 3, 6, 0, 0), ...exit0],
    ]);
    probes.push([`map ${map}: arithmetic before the check`, [...lookup(map, -8), insn(0x07, 0, 0, 0, 8), ...exit0]]);
    probes.push([
      `map ${map}: arithmetic after the check, then a load`,
      [...lookup(map, -8), insn(0x15, 0, 0, 2, 0), insn(0x07, 0, 0, 0, 4), insn(0x71, 3, 0, 3, 0), ...exit0],
    ]);
    for (const keyAt of [-8, -4, -2, -16, -512, -516]) probes.push([`map ${map}: key at fp${keyAt}`, [...lookup(map, keyAt), ...exit0]]);
  }
  probes.push([
    'r1 is the context, not a map',
    [insn(0x7a, 10, 0, -8, 0), insn(0xbf, 2, 10, 0, 0), insn(0x07, 2, 0, 0, -8), insn(0x85, 0, 0, 0, 1), ...exit0],
  ]);
  probes.push(['a load through the map pointer itself', [ldMap(1, 0), insn(0x79, 3, 1, 0, 0), ...exit0]]);
  probes.push(['r1-r5 are gone after the call', [...lookup(0, -8), insn(0xbf, 0, 2, 0, 0), insn(0x95, 0, 0, 0, 0)]]);
  // bpf_map_update_elem (2): key and value on the stack, flags a scalar
  const update = (map: number, keyAt: number, valueAt: number, r1IsMap = true) => [
    insn(0x7a, 10, 0, -8, 0),
    insn(0x7a, 10, 0, -16, 0),
    insn(0x7a, 10, 0, -24, 0),
    insn(0xbf, 2, 10, 0, 0),
    insn(0x07, 2, 0, 0, keyAt),
    insn(0xbf, 3, 10, 0, 0),
    insn(0x07, 3, 0, 0, valueAt),
    r1IsMap ? ldMap(1, map) : insn(0xb7, 1, 0, 0, 0),
    insn(0xb7, 4, 0, 0, 0),
    insn(0x85, 0, 0, 0, 2),
  ];
  for (const [map, valueAt] of [
    [0, -24],
    [0, -16],
    [0, -8],
    [1, -16],
    [1, -8],
    [1, -4],
  ])
    probes.push([`update map ${map}, value at fp${valueAt}`, [...update(map, -8, valueAt), ...exit0]]);
  probes.push(['update with r1 a scalar', [...update(0, -8, -24, false), ...exit0]]);
  probes.push(['ktime, then r1', [insn(0x85, 0, 0, 0, 5), insn(0xbf, 0, 1, 0, 0), insn(0x95, 0, 0, 0, 0)]]);
  probes.push(['prandom, then r0 returned', [insn(0x85, 0, 0, 0, 7), insn(0x95, 0, 0, 0, 0)]]);
  probes.push([
    'smp_processor_id as a key',
    [
      insn(0x85, 0, 0, 0, 8),
      insn(0x63, 10, 0, -4, 0),
      insn(0xbf, 2, 10, 0, 0),
      insn(0x07, 2, 0, 0, -4),
      ldMap(1, 0),
      insn(0x85, 0, 0, 0, 1),
      ...exit0,
    ],
  ]);
  // atomics
  for (const [name, code, imm] of [
    ['add', 0xdb, 0x00],
    ['fetch add', 0xdb, 0x01],
    ['xchg', 0xdb, 0xe1],
    ['add 4', 0xc3, 0x00],
    ['add 2', 0xcb, 0x00],
  ] as const) {
    probes.push([`atomic ${name} on the stack`, [insn(0x7a, 10, 0, -8, 0), insn(0xb7, 2, 0, 0, 1), insn(code, 10, 2, -8, imm), ...exit0]]);
    probes.push([`atomic ${name} on the context`, [insn(0xb7, 2, 0, 0, 1), insn(code, 1, 2, 0, imm), ...exit0]]);
    probes.push([
      `atomic ${name} on a map value`,
      [...lookup(0, -8), insn(0x15, 0, 0, 2, 0), insn(0xb7, 2, 0, 0, 1), insn(code, 0, 2, 8, imm), ...exit0],
    ]);
  }
  // global data: lddw BPF_PSEUDO_MAP_VALUE into the array map, at an offset
  const ldValue = (r: number, map: number, off: number) => insn(0x18, r, 2, 0, (BigInt(off) << 32n) | BigInt(map));
  for (const map of [2, 0, 3]) {
    for (const off of [0, 8, 15, 16]) {
      for (const [at, size] of [
        [0, 8],
        [4, 4],
        [7, 1],
        [8, 8],
      ] as const) {
        probes.push([
          `map ${map} value pointer +${off}, load ${size} at ${at}`,
          [ldValue(3, map, off), insn(size === 8 ? 0x79 : size === 4 ? 0x61 : 0x71, 4, 3, at, 0), ...exit0],
        ]);
        probes.push([
          `map ${map} value pointer +${off}, store ${size} at ${at}`,
          [ldValue(3, map, off), insn(size === 8 ? 0x7a : size === 4 ? 0x62 : 0x72, 3, 0, at, 1), ...exit0],
        ]);
      }
    }
  }
  // LD_ABS / LD_IND
  probes.push(['ld_abs with r6 the context', [insn(0xbf, 6, 1, 0, 0), insn(0x30, 0, 0, 0, 12), insn(0x95, 0, 0, 0, 0)]]);
  probes.push(['ld_abs without r6', [insn(0x30, 0, 0, 0, 12), insn(0x95, 0, 0, 0, 0)]]);
  probes.push(['ld_abs with r6 a scalar', [insn(0xb7, 6, 0, 0, 0), insn(0x30, 0, 0, 0, 12), insn(0x95, 0, 0, 0, 0)]]);
  probes.push([
    'ld_ind with a scalar index',
    [insn(0xbf, 6, 1, 0, 0), insn(0xb7, 7, 0, 0, 2), insn(0x50, 0, 7, 0, 12), insn(0x95, 0, 0, 0, 0)],
  ]);
  probes.push([
    'ld_abs clobbers r1-r5',
    [insn(0xbf, 6, 1, 0, 0), insn(0xb7, 3, 0, 0, 1), insn(0x30, 0, 0, 0, 12), insn(0xbf, 0, 3, 0, 0), insn(0x95, 0, 0, 0, 0)],
  ]);
  probes.push([
    'ld_abs through a moved context',
    [insn(0xbf, 6, 1, 0, 0), insn(0x07, 6, 0, 0, 4), insn(0x30, 0, 0, 0, 12), insn(0x95, 0, 0, 0, 0)],
  ]);
  probes.push([
    'atomic add into a read-only (.rodata-like) value',
    [ldValue(3, 3, 0), insn(0xb7, 2, 0, 0, 1), insn(0xdb, 3, 2, 8, 0), ...exit0],
  ]);
  probes.push([
    'fetch add, then the old value returned',
    [insn(0x7a, 10, 0, -8, 5), insn(0xb7, 2, 0, 0, 1), insn(0xdb, 10, 2, -8, 1), insn(0xbf, 0, 2, 0, 0), insn(0x95, 0, 0, 0, 0)],
  ]);

  const probe = kernelProbeForSuite('verifier walk differential');

  it('value bounds, NULL checks, keys on the stack, argument kinds', () => {
    const kernel = probe().ask(probes.map(([, p]) => [SOCK, encode(p)] as const));
    const mismatches: string[] = [];
    let modelled = 0;
    probes.forEach(([what, p], i) => {
      const ours = verdict(p, SOCK);
      if (ours === undefined) return;
      modelled++;
      if (ours !== kernel[i]) mismatches.push(`${what}: kernel "${kernel[i]}", bpfbox "${ours}"`);
    });
    assert.deepEqual(mismatches.slice(0, 25), []);
    assert.equal(modelled, probes.length - 1, 'all but the load through the map pointer (struct bpf_map fields, not modelled)');
  });
});
