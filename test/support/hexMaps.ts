import type { MapsJson } from '../../appliance/datapath/mapsJson.js';

/** HexMaps: {"NAME": {"HEXKEY": "HEXVALUE" or ["HEX per CPU", ...]}}, the maps keyed by their bytes, for tests that look entries up. */
export type HexMaps = Record<string, Record<string, string | string[]>>;

const hex = (bytes: readonly string[]) => bytes.map((b) => b.slice(2)).join('');

/** hexMaps turns replay's bpftool-shaped maps into a lookup by hex key (order and "formatted" dropped: deepEqual compares contents). */
export function hexMaps(maps: MapsJson): HexMaps {
  return Object.fromEntries(
    Object.entries(maps).map(([name, es]) => [
      name,
      Object.fromEntries(es.map((e) => [hex(e.key), e.values ? e.values.map((v) => hex(v.value)) : hex(e.value!)])),
    ]),
  );
}
