import type { Config } from './config.js';

/**
 * NON_BASE_UNITS: unit words Prometheus's naming rules replace by a base unit
 * (https://prometheus.io/docs/practices/naming/#base-units): time in seconds, sizes in bytes.
 */
const NON_BASE_UNITS: Readonly<Record<string, string>> = {
  ns: 'seconds',
  nanoseconds: 'seconds',
  us: 'seconds',
  microseconds: 'seconds',
  ms: 'seconds',
  milliseconds: 'seconds',
  minutes: 'seconds',
  hours: 'seconds',
  days: 'seconds',
  kb: 'bytes',
  kib: 'bytes',
  kilobytes: 'bytes',
  mb: 'bytes',
  mib: 'bytes',
  megabytes: 'bytes',
  gb: 'bytes',
  gib: 'bytes',
  bits: 'bytes',
};

/**
 * UNIT_WORDS: the unit a word of a metric or field name stands for; a family holds one unit,
 * so a `field` label over `packets` and `bytes` mixes two.
 */
const UNIT_WORDS: Readonly<Record<string, string>> = {
  packets: 'packets',
  pkts: 'packets',
  frames: 'packets',
  bytes: 'bytes',
  seconds: 'seconds',
  ...NON_BASE_UNITS,
};

/** unitOf: the unit a name ends in (its last unit word, `_total` aside), if any. */
function unitOf(name: string): string | undefined {
  const words = name
    .toLowerCase()
    .split('_')
    .filter((w) => w && w !== 'total' && w !== 'timestamp');
  for (let i = words.length - 1; i >= 0; i--) if (UNIT_WORDS[words[i]]) return UNIT_WORDS[words[i]];
  return undefined;
}

/** nameRules: what is wrong with one exporter entry's name (and fields) by Prometheus's naming rules. */
function nameRules(kind: 'counters' | 'gauges' | 'histograms', name: string, fields: readonly string[] | undefined): string[] {
  const out: string[] = [];
  if (kind === 'counters' && !name.endsWith('_total')) out.push(`a counter's name ends in _total`);
  if (kind !== 'counters' && name.endsWith('_total')) out.push(`_total is for counters; a ${kind.slice(0, -1)} does not end in it`);
  for (const w of name.toLowerCase().split('_'))
    if (NON_BASE_UNITS[w]) out.push(`"${w}" is not a base unit; Prometheus names use ${NON_BASE_UNITS[w]}`);
  if (fields && fields.length) {
    const units = new Set(fields.map(unitOf).filter((u): u is string => !!u));
    const own = unitOf(name);
    if (units.size > 1) out.push(`its field label mixes units (${[...units].join(', ')}); one metric per unit`);
    else if (own && units.size === 1 && !units.has(own)) out.push(`its name says ${own} but its field is in ${[...units][0]}`);
  }
  return out;
}

/**
 * metricNameWarnings: one line per exporter entry of `cfg` whose name breaks Prometheus's
 * naming rules (a counter without `_total`, a `field` label mixing units, a non-base unit
 * such as `_ns`, `_ms`, `_kb`), naming the config file and the entry. Only warnings: such
 * a config still serves.
 */
export function metricNameWarnings(cfg: Config, file: string): string[] {
  const out: string[] = [];
  for (const kind of ['counters', 'gauges', 'histograms'] as const) {
    (cfg.exporter?.[kind] ?? []).forEach((m, i) => {
      const fields = 'fields' in m ? (m.fields as string[] | undefined) : undefined;
      for (const w of nameRules(kind, m.name, fields)) out.push(`${file}: exporter.${kind}[${i}] (${m.name}): ${w}`);
    });
  }
  return out;
}
