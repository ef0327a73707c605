import type { Rng } from './random.js';
import { repo, type Seeds } from './seeds.js';

/**
 * argvSeeds: command lines that work on the seed state (a program pinned at /sys/fs/bpf/p,
 * its maps under /sys/fs/bpf/m, a hash map h and a queue q). Paths a command writes are
 * relative: a case writes only inside its own directory.
 */
function argvSeeds(s: Seeds): string[][] {
  const obj = repo('bpf', 'xdp_stats.o');
  return [
    ['map', 'show'],
    ['-j', 'map', 'dump', 'pinned', '/sys/fs/bpf/m/proto_stats'],
    ['map', 'update', 'pinned', '/sys/fs/bpf/h', 'key', '1', '2', '3', '4', 'value', 'hex', '01', '02', '03', '04', '05', '06', '07', '08'],
    ['map', 'lookup', 'pinned', '/sys/fs/bpf/h', 'key', '0x01', '0', '0', '0'],
    ['map', 'getnext', 'pinned', '/sys/fs/bpf/h'],
    ['map', 'delete', 'pinned', '/sys/fs/bpf/h', 'key', '1', '2', '3', '4'],
    ['map', 'push', 'pinned', '/sys/fs/bpf/q', 'value', '1', '2', '3', '4'],
    ['map', 'pop', 'pinned', '/sys/fs/bpf/q'],
    ['map', 'freeze', 'pinned', '/sys/fs/bpf/h'],
    ['map', 'pin', 'name', 'h', '/sys/fs/bpf/h2'],
    ['map', 'create', '/sys/fs/bpf/a', 'type', 'array', 'key', '4', 'value', '8', 'entries', '4', 'name', 'a'],
    ['map', 'create', '/sys/fs/bpf/l', 'type', 'lpm_trie', 'key', '8', 'value', '4', 'entries', '4', 'name', 'l', 'flags', '1'],
    ['prog', 'show'],
    ['prog', 'dump', 'xlated', 'pinned', '/sys/fs/bpf/p'],
    ['prog', 'run', 'pinned', '/sys/fs/bpf/p', 'data_in', 'pkt.bin', 'data_out', 'out.bin', 'repeat', '3'],
    ['prog', 'load', obj, '/sys/fs/bpf/p2', 'type', 'xdp', 'pinmaps', '/sys/fs/bpf/m2'],
    ['prog', 'loadall', repo('bpf', 'tail_calls.o'), '/sys/fs/bpf/t'],
    ['prog', 'pin', 'name', 'xdp_stats', '/sys/fs/bpf/p3'],
    ['verify', obj, '--log-level', '2', '--prog', 'xdp_stats'],
    ['replay', s.pcap, '--obj', obj, '--workers', '1', '--deterministic', '--seed', '7', '--out-pass', 'pass.pcap', '-j'],
    [
      'replay',
      '-r',
      s.pcapng,
      '--obj',
      obj,
      '--workers',
      '2',
      '--set',
      'sample_every=4',
      '--events',
      'ev.jsonl',
      '--pinmaps',
      '/sys/fs/bpf/r',
    ],
    ['conformance', repo('test', 'fixtures', 'vectors')],
  ];
}

/** TOKENS: words and values that mean something to some command, and values at edges. */
const TOKENS = [
  ...['map', 'prog', 'net', 'verify', 'replay', 'conformance', 'show', 'dump', 'lookup', 'update', 'create', 'run', 'load', 'pin'],
  ...['pinned', 'id', 'name', 'tag', 'key', 'value', 'hex', 'type', 'entries', 'flags', 'inner_map', 'data_in', 'data_out'],
  ...['data_size_out', 'ctx_in', 'ctx_out', 'ctx_size_out', 'repeat', 'pinmaps', 'any', 'exist', 'noexist', 'xlated', 'linum'],
  ...['--obj', '--prog', '--type', '--workers', '--map-init', '--set', '--out', '--deterministic', '--seed', '--routes', '--engine'],
  ...['--preload', '--pinmaps', '--events', '--json', '-j', '-p', '-f', '--log-level', '--config', '--trace', '--help', '-r'],
  ...['0', '1', '-1', '4', '255', '256', '65536', '4294967295', '4294967296', '99999999999999999999', '1e3', 'NaN', 'abc', ''],
  ...['0x', '0xff', '-', '.', '..', 'x=1', '=', 'sample_every=-1', 'jit', 'interpreter', 'xdp', 'tc', 'socket', 'hash', 'array'],
  ...['queue', 'ringbuf', 'prog_array', 'array_of_maps', 'lpm_trie', '/sys/fs/bpf/', '/sys/fs/bpf/p', '/sys/fs/bpf/m/sampled'],
  ...['/sys/fs/bpf/../x', '/sys/fs/bpf/.run', '/sys/fs/bpf/a\nb', 'pkt.bin', 'out.pcapng', 'nope.o', '%s%n', 'a'.repeat(300)],
];

/** FORBIDDEN_FIRST: commands a case never runs: `live` opens AF_PACKET sockets on the host, `serve` runs until stopped. */
const FORBIDDEN_FIRST = new Set(['live', 'serve']);

/** ARGV_MUTATORS: edits of an argument vector. */
const ARGV_MUTATORS: Readonly<Record<string, (a: string[], r: Rng) => void>> = {
  replace: (a, r) => void (a.length && (a[r.below(a.length)] = r.pick(TOKENS))),
  insert: (a, r) => void a.splice(r.below(a.length + 1), 0, r.pick(TOKENS)),
  erase: (a, r) => void (a.length && a.splice(r.below(a.length), 1)),
  duplicate: (a, r) => void (a.length && a.splice(r.below(a.length), 0, a[r.below(a.length)])),
  truncate: (a, r) => void (a.length = r.below(a.length + 1)),
  swap: (a, r) => {
    const i = r.below(a.length);
    const j = r.below(a.length);
    [a[i], a[j]] = [a[j], a[i]];
  },
  char: (a, r) => {
    if (!a.length) return;
    const i = r.below(a.length);
    const t = a[i];
    const at = r.below(t.length + 1);
    a[i] = t.slice(0, at) + String.fromCharCode(r.pick([0x2d, 0x3d, 0x2c, 0x30, 0x39, 0x78, 0x20, 0xff, 0x2f])) + t.slice(at + r.below(2));
  },
};

/** mutateArgv stacks 1 to 3 edits on a seed command line, keeping away from `live` and `serve`. */
export function mutateArgv(seeds: Seeds, r: Rng): { args: string[]; edits: string[] } {
  const all = argvSeeds(seeds);
  const names = Object.keys(ARGV_MUTATORS);
  for (;;) {
    const args = [...r.pick(all)];
    const edits: string[] = [];
    for (let n = 1 + r.below(3); n > 0; n--) {
      const name = r.pick(names);
      ARGV_MUTATORS[name](args, r);
      edits.push(name);
    }
    // the first word (after options) picks the command: skip vectors that would run live or serve
    if (!args.some((a) => FORBIDDEN_FIRST.has(a)) && !args.includes('\0')) return { args, edits };
  }
}
