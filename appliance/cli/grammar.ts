/**
 * The grammar of each bpftool-style object, printed by `bpfbox OBJECT help` (and `--help`,
 * `-h`) as bpftool prints its own (`bpftool prog help`, prog.c do_help): the first form after
 * `Usage:`, the others under it, then the words the forms use. Only what bpfbox accepts is
 * listed (no `dump jited`, `attach`, `profile`, `event_pipe`).
 */
export const GRAMMAR: Readonly<Record<'prog' | 'map' | 'net', readonly string[]>> = {
  prog: [
    'bpfbox prog { show | list } [PROG]',
    'bpfbox prog dump xlated PROG [linum]',
    'bpfbox prog pin   PROG FILE',
    'bpfbox prog { load | loadall } OBJ  PATH \\',
    '                  [type TYPE] [pinmaps MAP_DIR] [--set VAR=VALUE]',
    'bpfbox prog run PROG \\',
    '                  data_in FILE \\',
    '                  [data_out FILE [data_size_out L]] \\',
    '                  [ctx_in FILE [ctx_out FILE [ctx_size_out M]]] \\',
    '                  [repeat N] [--events FILE]',
    'bpfbox prog tracelog',
    'bpfbox prog help',
    '',
    'PROG := { id PROG_ID | pinned FILE | tag PROG_TAG | name PROG_NAME }',
    'TYPE := { a libbpf section name: xdp | socket | tc | classifier | action |',
    '          sk_skb | sk_msg | cgroup/skb | lwt_in | lwt_out | lwt_xmit | … }',
    'FILE := a path; `-` for data_in/ctx_in reads standard input',
    'OPTIONS := { {-j|--json} [{-p|--pretty}] | -f | --bpffs DIR | --routes FILE |',
    '             --engine { interpreter | jit } | --set VAR=VALUE }',
  ],
  map: [
    'bpfbox map { show | list }   [MAP]',
    'bpfbox map create     FILE type TYPE key KEY_SIZE value VALUE_SIZE \\',
    '                          entries MAX_ENTRIES name NAME [flags FLAGS] \\',
    '                          [inner_map MAP]',
    'bpfbox map dump       MAP',
    'bpfbox map update     MAP [key DATA] [value VALUE] [UPDATE_FLAGS]',
    'bpfbox map lookup     MAP [key DATA]',
    'bpfbox map getnext    MAP [key DATA]',
    'bpfbox map delete     MAP  key DATA',
    'bpfbox map pin        MAP  FILE',
    'bpfbox map peek       MAP',
    'bpfbox map push       MAP value VALUE',
    'bpfbox map pop        MAP',
    'bpfbox map enqueue    MAP value VALUE',
    'bpfbox map dequeue    MAP',
    'bpfbox map freeze     MAP',
    'bpfbox map help',
    '',
    'MAP := { id MAP_ID | pinned FILE | name MAP_NAME }',
    'DATA := { [hex] BYTES }',
    'PROG := { id PROG_ID | pinned FILE | tag PROG_TAG | name PROG_NAME }',
    'VALUE := { DATA | MAP | PROG }',
    'UPDATE_FLAGS := { any | exist | noexist }',
    'TYPE := { hash | array | prog_array | perf_event_array | percpu_hash |',
    '          percpu_array | lru_hash | lru_percpu_hash | lpm_trie | array_of_maps |',
    '          hash_of_maps | devmap | devmap_hash | cpumap | xskmap | queue | stack |',
    '          ringbuf | bloom_filter | … }',
    'OPTIONS := { {-j|--json} [{-p|--pretty}] | -f | --bpffs DIR }',
  ],
  net: [
    'bpfbox net { show | list } [dev NAME]',
    'bpfbox net attach ATTACH_TYPE PROG dev NAME [peer NAME] [offloads { off | passthrough }] \\',
    '                  [on_error { drop | pass }] [workers N] [overwrite]',
    'bpfbox net detach ATTACH_TYPE dev NAME',
    'bpfbox net help',
    '',
    'PROG := { id PROG_ID | pinned FILE | name PROG_NAME }',
    'ATTACH_TYPE := { xdp | xdpgeneric | tc | tcx_ingress }',
    'OPTIONS := { {-j|--json} [{-p|--pretty}] | --bpffs DIR }',
    '(acts on a running `bpfbox serve --config`, through its control socket)',
  ],
};

/** HELP_WORDS: the words that ask an object for its grammar in place of a verb (bpftool's `help`, and the usual flags). */
export const HELP_WORDS: ReadonlySet<string> = new Set(['help', '--help', '-h']);

/** grammarText: `Usage: ` and the object's forms, each after the first indented under it, as bpftool's do_help. */
export function grammarText(object: keyof typeof GRAMMAR): string {
  return GRAMMAR[object].map((l, i) => (i === 0 ? `Usage: ${l}` : l === '' ? '' : `       ${l}`)).join('\n');
}
