import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import { UserError } from '../../uapi/userError.js';

/** Config: the appliance's configuration (config/schema.json describes it; examples in config/). */
export interface Config {
  bpffs?: string;
  workers?: number;
  engine?: 'interpreter' | 'jit';
  deterministic?: boolean;
  seed?: number;
  routes?: string;
  trace?: boolean;
  metrics?: { addr?: string };
  programs: ProgramConfig[];
  sources?: SourceConfig[];
  interfaces?: InterfaceConfig[];
  exporter?: { counters?: CounterConfig[]; gauges?: GaugeConfig[]; histograms?: HistogramConfig[] };
}

export interface ProgramConfig {
  name: string;
  obj: string;
  prog?: string;
  type?: 'xdp' | 'socket' | 'tc';
  set?: Record<string, number | string>;
  pin?: string;
  pinmaps?: string;
  map_init?: string;
  maps?: Record<string, { entries: { key: string; value: string }[] }>;
  prog_array?: Record<string, Record<string, string>>;
  out?: string;
  out_pass?: string;
  out_drop?: string;
}

export interface SourceConfig {
  program: string;
  captures: string[];
  mode?: 'once' | 'loop' | 'rate';
  rate?: number;
  queue_capacity?: number;
}

/**
 * InterfaceConfig: a live interface: a bridge between `name` and `peer` that applies the
 * verdicts of `program` (a name from `programs`), or a tap on `name` alone; see LiveBridge.
 */
export interface InterfaceConfig {
  name: string;
  peer?: string;
  program: string;
  offloads?: 'off' | 'passthrough';
  on_error?: 'drop' | 'pass';
  workers?: number;
}

export interface DecoderConfig {
  name: 'uint' | 'inet_ip' | 'static_map' | 'regexp' | 'string' | 'hex';
  static_map?: Record<string, string>;
  allow_unknown?: boolean;
  regexps?: string[];
}

export interface LabelConfig {
  name: string;
  size: number;
  padding?: boolean;
  decoders?: DecoderConfig[];
}

export interface MetricCommon {
  name: string;
  help: string;
  program?: string;
  map: string;
  labels?: LabelConfig[];
  per_cpu?: 'sum' | 'label';
}

export interface CounterConfig extends MetricCommon {
  fields?: string[];
}

/** GaugeConfig: a counter's shape, for values that go down (timestamps, levels); `scale` multiplies each (1e-9: ns to seconds). */
export interface GaugeConfig extends CounterConfig {
  scale?: number;
}

export interface HistogramConfig extends MetricCommon {
  bucket_type: 'exp2' | 'linear';
  bucket_min: number;
  bucket_max: number;
  bucket_multiplier?: number;
}

/** ConfigError: a config that does not validate: the file, line and column, the path, and the reason. */
export class ConfigError extends UserError {}

const SCHEMA = JSON.parse(readFileSync(fileURLToPath(new URL('../../../config/schema.json', import.meta.url)), 'utf8'));
const validate = new Ajv({ allErrors: true, strict: false }).compile(SCHEMA);

/** configPath turns a JSON pointer (/programs/0/maps/x) into the config's own notation (programs[0].maps.x). */
export function configPath(parts: readonly (string | number)[]): string {
  return parts.map((p, i) => (typeof p === 'number' || /^\d+$/.test(String(p)) ? `[${p}]` : `${i ? '.' : ''}${p}`)).join('');
}

/**
 * loadConfig reads a YAML config, validates it against config/schema.json and checks what
 * a schema cannot (program names that sources and metrics refer to, unique names); paths
 * in it are taken relative to the config file. Errors name the line, the path and the reason.
 */
export function loadConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${path}: ${(e as Error).message}`, { file: path, cause: e });
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const { line, col } = lines.linePos(e.pos[0]);
    throw new ConfigError(`${path}:${line}:${col}: ${e.message.split('\n')[0]}`, { file: path, line, cause: e });
  }
  const cfg = doc.toJS() as unknown;
  const where = (parts: (string | number)[]) => {
    const node = doc.getIn(parts, true) as { range?: [number, number, number] } | undefined;
    const pos = node?.range ? lines.linePos(node.range[0]) : undefined;
    return `${path}${pos ? `:${pos.line}:${pos.col}` : ''}: ${configPath(parts) || '(top)'}`;
  };
  if (!validate(cfg))
    throw new ConfigError(
      validate
        .errors!.filter(useful)
        .slice(0, 5)
        .map((e) => explain(e, where))
        .join('\n'),
    );
  const c = cfg as Config;
  const names = new Set<string>();
  c.programs.forEach((p, i) => {
    if (names.has(p.name)) throw new ConfigError(`${where(['programs', i, 'name'])}: a second program named ${p.name}`);
    names.add(p.name);
  });
  const known = (name: string | undefined, at: (string | number)[]) => {
    if (name !== undefined && !names.has(name))
      throw new ConfigError(`${where(at)}: no program named ${name} (programs: ${[...names].join(', ')})`);
  };
  c.sources?.forEach((s, i) => {
    known(s.program, ['sources', i, 'program']);
    if (s.mode === 'rate' && s.rate === undefined)
      throw new ConfigError(`${where(['sources', i, 'mode'])}: mode rate needs a rate (packets per second)`);
  });
  checkInterfaces(c, where);
  for (const kind of ['counters', 'gauges', 'histograms'] as const) {
    c.exporter?.[kind]?.forEach((m, i) => {
      known(m.program, ['exporter', kind, i, 'program']);
      if (m.program === undefined && c.programs.length > 1)
        throw new ConfigError(`${where(['exporter', kind, i])}: say which program's map (there are ${c.programs.length} programs)`);
    });
  }
  c.exporter?.histograms?.forEach((h, i) => {
    if (h.bucket_max < h.bucket_min)
      throw new ConfigError(`${where(['exporter', 'histograms', i, 'bucket_max'])}: ${h.bucket_max} is below bucket_min ${h.bucket_min}`);
  });
  return resolvePaths(c, dirname(path));
}

/**
 * checkInterfaces: what the schema cannot say about `interfaces`: the program exists (and is
 * not a socket filter when there is a peer: it filters what a socket sees, it gives no
 * verdict to forward by), no interface is used twice, and the workers fit the service's
 * kernel (its CPUs are `workers`; per-CPU maps have one slot per CPU).
 */
function checkInterfaces(c: Config, where: (parts: (string | number)[]) => string): void {
  const ncpus = c.workers ?? availableParallelism();
  const seen = new Map<string, string>();
  c.interfaces?.forEach((f, i) => {
    const p = c.programs.find((x) => x.name === f.program);
    if (!p)
      throw new ConfigError(
        `${where(['interfaces', i, 'program'])}: no program named ${f.program} (programs: ${c.programs.map((x) => x.name).join(', ')})`,
      );
    if (f.peer !== undefined && p.type === 'socket')
      throw new ConfigError(`${where(['interfaces', i, 'program'])}: ${f.program} is a socket filter: it runs only in a tap (no peer)`);
    if (f.peer === f.name)
      throw new ConfigError(`${where(['interfaces', i, 'peer'])}: ${f.peer} is the name: a bridge joins two interfaces`);
    for (const [key, dev] of [['name', f.name], ...(f.peer !== undefined ? [['peer', f.peer]] : [])] as const) {
      const before = seen.get(dev);
      if (before) throw new ConfigError(`${where(['interfaces', i, key])}: ${dev} is already in ${before}`);
      seen.set(dev, `interfaces[${i}]`);
    }
    if (f.workers !== undefined && f.workers > ncpus)
      throw new ConfigError(
        `${where(['interfaces', i, 'workers'])}: ${f.workers} workers, but the service's kernel has ${ncpus} CPUs (workers: ${ncpus})`,
      );
  });
}

/** useful drops ajv's echo errors (an anyOf/if that only repeats a more precise one). */
const useful = (e: ErrorObject) => e.keyword !== 'if' && e.keyword !== 'allOf';

function explain(e: ErrorObject, where: (parts: (string | number)[]) => string): string {
  const parts = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p.replace(/~1/g, '/').replace(/~0/g, '~')));
  switch (e.keyword) {
    case 'additionalProperties':
      return `${where([...parts, (e.params as { additionalProperty: string }).additionalProperty])}: unknown key`;
    case 'required':
      return `${where(parts)}: missing "${(e.params as { missingProperty: string }).missingProperty}"`;
    case 'enum':
      return `${where(parts)}: expected one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
    default:
      return `${where(parts)}: ${e.message}`;
  }
}

function resolvePaths(c: Config, base: string): Config {
  const abs = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : resolve(base, p));
  return {
    ...c,
    bpffs: abs(c.bpffs),
    routes: abs(c.routes),
    programs: c.programs.map((p) => ({
      ...p,
      obj: abs(p.obj)!,
      map_init: abs(p.map_init),
      out: abs(p.out),
      out_pass: abs(p.out_pass),
      out_drop: abs(p.out_drop),
    })),
    sources: c.sources?.map((s) => ({ ...s, captures: s.captures.map((x) => abs(x)!) })),
  };
}
