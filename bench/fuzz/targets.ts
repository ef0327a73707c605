import { readFileSync } from 'node:fs';
import { mutateArgv } from './argv.js';
import { mutateBytes, mutateText } from './mutate.js';
import type { Rng } from './random.js';
import { repo, type Seeds } from './seeds.js';

/**
 * FuzzCase: one input and the command that feeds it to the CLI. `files` are written into the
 * case's directory (its cwd), so arguments name them relatively; `state` asks for a copy of
 * the seed bpffs state (else the case starts from an empty one).
 */
export interface FuzzCase {
  readonly files: Readonly<Record<string, Uint8Array>>;
  readonly args: readonly string[];
  readonly edits: readonly string[];
  readonly state?: boolean;
}

/** Target: a kind of input and the commands that read it. */
export interface Target {
  readonly name: string;
  readonly about: string;
  /** make builds case `index` from the seeds; a pure function of the Rng it is given */
  make(seeds: Seeds, r: Rng, index: number): FuzzCase;
}

/** ELF_SEEDS: small objects from bpf/ covering maps, BTF, relocations, subprograms, tail calls, globals, callbacks, CO-RE. */
const ELF_SEEDS = [
  'xdp_simple',
  'calls',
  'tail_calls',
  'map_in_map',
  'global_data',
  'callbacks',
  'ringbuf',
  'core_ctx',
  'legacy_maps',
  'lpm_firewall',
];

/** CONFIG_SEEDS: the shipped configs, their relative paths made absolute and their outputs kept in the case directory. */
const CONFIG_SEEDS = ['firewall.yaml', 'appliance.yaml'];

/** MAP_INIT_SEEDS: `--map-init` documents for an object, each the grammar appliance/datapath/mapInit.ts reads. */
const MAP_INIT_SEEDS: readonly { obj: string; prog?: string; doc: unknown }[] = [
  {
    obj: 'lpm_firewall',
    doc: {
      maps: {
        blocked: [
          ['09000000 0a000000', '01000000'],
          ['10000000 0ac80000', '01000000'],
        ],
      },
    },
  },
  { obj: 'tail_calls', prog: 'xdp_dispatch', doc: { prog_array: { jmp_table: { '0': 'xdp_drop_all', '1': 'xdp_pass_all' } } } },
  { obj: 'xdp_stats', doc: { maps: { proto_stats: [['08000600', '0100000000000000 4000000000000000']] } } },
];

/** ROUTE_SEEDS: `--routes` tables (test/appliance/routes.test.ts's grammar). */
const ROUTE_SEEDS: readonly unknown[] = [
  {
    routes: [
      { dst: '10.1.0.0/24', ifindex: 3, smac: '02:00:00:00:00:01' },
      { dst: '10.2.0.0/16', ifindex: 3, gateway: '10.1.0.2', smac: '02:00:00:00:00:01', mtu: 1500, metric: 5 },
      { dst: '10.66.0.0/16', ifindex: 0, kind: 'blackhole' },
      { dst: '2001:db8::/32', ifindex: 4 },
    ],
    neighbours: [{ ip: '10.1.0.2', mac: '02:00:00:00:00:aa' }],
  },
  { routes: [{ dst: '0.0.0.0/0', ifindex: 2, gateway: '192.168.0.1' }], neighbours: [{ ip: '192.168.0.1', mac: '02:00:00:00:00:02' }] },
];

const cache = new Map<string, Uint8Array>();
/**
 * read caches a seed file (a run reads each thousands of times) as a plain Uint8Array: a
 * Buffer's slice() is a view, and the mutators' copies would write through to the seed.
 */
function read(path: string): Uint8Array {
  let b = cache.get(path);
  if (!b) cache.set(path, (b = new Uint8Array(readFileSync(path))));
  return b;
}

/** configSeed is a shipped config made runnable from a case directory. */
function configSeed(name: string, seeds: Seeds): string {
  return readFileSync(repo('config', name), 'utf8')
    .replaceAll('/tmp/', './')
    .replaceAll('../pcaps/sample.pcap', seeds.pcap)
    .replaceAll('../', repo() + '/')
    .replace(/mode: rate/, 'mode: once');
}

/** captureTarget mutates capture seeds and replays them, writing --out in either format. */
function captureTarget(name: string, pick: (s: Seeds) => string[]): Target {
  return {
    name,
    about: `${name} captures through replay (xdp_stats) and --out`,
    make(seeds, r, index) {
      const all = pick(seeds).map(read);
      const { input, edits } = mutateBytes(r.pick(all), r, all);
      const file = name === 'pcapng' ? 'in.pcapng' : 'in.pcap';
      const out = index % 2 ? 'out.pcapng' : 'out.pcap';
      return {
        files: { [file]: input },
        args: ['replay', file, '--obj', repo('bpf', 'xdp_stats.o'), '--workers', '1', '--out', out],
        edits,
      };
    },
  };
}

/** TARGETS: every input the suite fuzzes, by name (`--target NAME`). */
export const TARGETS: readonly Target[] = [
  captureTarget('pcap', (s) => [s.pcap, s.pcapNs]),
  captureTarget('pcapng', (s) => [s.pcapng]),
  {
    name: 'elf',
    about: 'clang objects from bpf/ through verify (even cases) and prog load (odd cases)',
    make(_seeds, r, index) {
      const all = ELF_SEEDS.map((n) => read(repo('bpf', `${n}.o`)));
      const { input, edits } = mutateBytes(r.pick(all), r, all);
      const args = index % 2 ? ['prog', 'load', 'in.o', '/sys/fs/bpf/fz'] : ['verify', 'in.o'];
      return { files: { 'in.o': input }, args, edits };
    },
  },
  {
    name: 'config',
    about: 'the shipped YAML configs through replay --config',
    make(seeds, r) {
      const { input, edits } = mutateText(configSeed(r.pick(CONFIG_SEEDS), seeds), r);
      return { files: { 'in.yaml': input }, args: ['replay', '--config', 'in.yaml'], edits };
    },
  },
  {
    name: 'map-init',
    about: '--map-init JSON through replay',
    make(seeds, r) {
      const s = r.pick(MAP_INIT_SEEDS);
      const { input, edits } = mutateText(JSON.stringify(s.doc, null, 1), r);
      return {
        files: { 'init.json': input },
        args: [
          ...['replay', seeds.pcap, '--obj', repo('bpf', `${s.obj}.o`), '--workers', '1', '--map-init', 'init.json'],
          ...(s.prog ? ['--prog', s.prog] : []),
        ],
        edits,
      };
    },
  },
  {
    name: 'routes',
    about: '--routes JSON through replay of xdp_fib',
    make(seeds, r) {
      const { input, edits } = mutateText(JSON.stringify(r.pick(ROUTE_SEEDS), null, 1), r);
      return {
        files: { 'routes.json': input },
        args: ['replay', seeds.pcap, '--obj', repo('bpf', 'xdp_fib.o'), '--workers', '1', '--routes', 'routes.json'],
        edits,
      };
    },
  },
  {
    name: 'args',
    about: 'CLI argument vectors (bpftool grammar and yargs commands) over a state with pins',
    make(seeds, r) {
      const { args, edits } = mutateArgv(seeds, r);
      return { files: { 'pkt.bin': new Uint8Array(64).fill(0x45) }, args, edits, state: true };
    },
  },
];
