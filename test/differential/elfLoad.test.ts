import { kfuncById } from '../../vm/verifier/kfuncs.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { xlatedLines } from '../../appliance/cli/progOutput.js';
import { readCollection } from '../../elf/collection.js';
import { loadCollection } from '../../kernel/loadCollection.js';
import { progTypeName } from '../../uapi/progType.js';
import { displayName } from '../../appliance/cli/progOutput.js';
import { Kernel } from '../../kernel/kernel.js';
import { mapTypeName } from '../../uapi/mapType.js';
import { REPO_ROOT } from '../support/paths.js';
import { kernelBpffs } from '../support/bpffs.js';

/**
 * Differential: bpftool (libbpf) loads each corpus object into the running kernel; bpfbox
 * reads and loads the same object. They must agree on every program's name, type and tag
 * (the tag hashes the instructions as submitted, map immediates zeroed: equal tags mean the
 * same relocated, linked stream), on the maps each program uses (name, type, sizes,
 * flags, frozen), and, where the kernel did not rewrite instructions, on the xlated listing.
 */
const DIR = `/sys/fs/bpf/bpfbox_elf_${process.pid}`;
const bt = (...args: string[]) => spawnSync('bpftool', args, { encoding: 'utf8' });

describe('differential: clang objects load in bpfbox as libbpf loads them in the kernel', function () {
  this.timeout(120_000);
  before(function () {
    let why = '';
    if (bt('version').error) why = 'bpftool is not installed';
    else if (process.getuid?.() !== 0) why = 'not root';
    else why = kernelBpffs();
    if (why) {
      console.log(`  ELF differential: SKIPPED: ${why}`);
      this.skip();
    }
    mkdirSync(DIR, { recursive: true });
  });
  after(() => rmSync(DIR, { recursive: true, force: true }));

  const objects = readdirSync(join(REPO_ROOT, 'bpf'))
    .filter((f) => f.endsWith('.o'))
    .sort();
  for (const file of objects) {
    it(file, function () {
      const name = file.replace(/\.o$/, '');
      const pins = `${DIR}/${name}`;
      rmSync(pins, { recursive: true, force: true });
      const load = bt('prog', 'loadall', join(REPO_ROOT, 'bpf', file), pins);
      if (load.status !== 0) {
        console.log(`  ELF differential: ${file} SKIPPED: the kernel's loader refused it: ${load.stderr.trim().split('\n').pop()}`);
        this.skip();
      }
      const kernelProgs = readdirSync(pins).map((p) => JSON.parse(bt('-j', 'prog', 'show', 'pinned', `${pins}/${p}`).stdout));
      const k = new Kernel({ ncpus: 2 });
      const spec = readCollection(readFileSync(join(REPO_ROOT, 'bpf', file)), { name: file });
      // BPF_CORE_TYPE_ID_TARGET (bpf_core_type_id_kernel): libbpf writes vmlinux's id, bpfbox the object's (elf/collection.ts)
      const kernelTypeIds = [...(spec.btfExt?.core.values() ?? [])].some((rs) => rs.some((r) => r.kind === 7));
      const l = loadCollection(k.process, spec);
      const ours = [...l.programs].map(([, fd]) => k.process.progOf(fd));
      assert.deepEqual(ours.map(displayName).sort(), kernelProgs.map((p) => p.name).sort(), 'program names');
      const notes: string[] = [];
      for (const kp of kernelProgs) {
        const p = ours.find((o) => displayName(o) === kp.name)!;
        assert.equal(progTypeName(p.type), kp.type, `${kp.name}: type`);
        // a kfunc call's imm is a BTF id of the kernel's vmlinux, which bpfbox numbers its own way (vm/verifier/kfuncs.ts)
        const kfuncCalls = Array.from({ length: p.bytecode.length / 8 }, (_, s) => s * 8).some(
          (o) => p.bytecode[o] === 0x85 && p.bytecode[o + 1] >> 4 === 2,
        );
        if (!kfuncCalls && !kernelTypeIds) assert.equal(p.tag, kp.tag, `${kp.name}: tag (the relocated instruction stream)`);
        const kMaps = (kp.map_ids ?? []).map((id: number) => JSON.parse(bt('-j', 'map', 'show', 'id', String(id)).stdout));
        const shape = (m: {
          name: string;
          type: string;
          bytes_key: number;
          bytes_value: number;
          max_entries: number;
          flags: number;
          frozen: number;
        }) =>
          `${m.name} ${m.type} ${m.bytes_key}/${m.bytes_value}/${m.max_entries} flags 0x${m.flags.toString(16)}${m.frozen ? ' frozen' : ''}`;
        const ourMaps = [...p.maps, ...p.bound].map((m) =>
          shape({
            name: m.spec.name ?? '',
            type: mapTypeName(m.spec.type),
            bytes_key: m.spec.keySize,
            bytes_value: m.spec.valueSize,
            max_entries: m.spec.maxEntries,
            flags: m.spec.flags ?? 0,
            frozen: m.frozen ? 1 : 0,
          }),
        );
        // an older bpftool prints a map type it has no name for as its number (cgrp_storage is 32)
        const named = (m: { type: string | number }) => ({
          ...m,
          type: /^\d+$/.test(String(m.type)) ? mapTypeName(Number(m.type)) : m.type,
        });
        assert.deepEqual(ourMaps.sort(), kMaps.map(named).map(shape).sort(), `${kp.name}: maps`);
        // the xlated listing, where the kernel kept the instruction count (no inlined helpers)
        const kx = JSON.parse(bt('-j', 'prog', 'dump', 'xlated', 'pinned', `${pins}/${kp.name}`).stdout) as { disasm: string }[];
        const ox = xlatedLines(p);
        if (kx.length !== ox.length) {
          notes.push(`${kp.name}: kernel rewrote it (${ox.length} -> ${kx.length} insns: inlined helpers)`);
          continue;
        }
        // documented rewrite (fixup_bpf_calls): map helpers become calls to the map type's own
        // function (bpf_map_update_elem#2 -> array_map_update_elem#…)
        const norm = (s: string) =>
          s
            .replace(/^\([0-9a-f]{2}\) /, '')
            .replace(/call \w*map_(lookup|update|delete|push|pop|peek)_elem#\d+/, 'call map_$1_elem')
            // and bpf_redirect_map becomes the map type's map_redirect (dev_map_redirect#…)
            .replace(/call \w*map_redirect#\d+/, 'call bpf_redirect_map')
            .replace(/map\[id:\d+\]/g, 'map[id:N]')
            .replace(/(call (?:pc[+-]\d+|bpf_\w+#\d+))#\S*/g, '$1')
            .replace(/call pc([+-]\d+)#.*/, 'call pc$1')
            .replace(/call (bpf_\w+)#-?\d+/, 'call $1') // the kernel patches helper calls to addresses (an offset, possibly negative)
            // kfuncs by name: the ids are the kernel's vmlinux BTF ids there, bpfbox's own here
            .replace(/call kernel-function#(\d+)/, (m, id: string) => `call ${kfuncById(Number(id))?.name ?? m}`);
        let rewritten = 0;
        for (let i = 0; i < kx.length; i++) {
          const a = norm(kx[i].disasm);
          const b = norm(ox[i].text);
          if (a === b) continue;
          // documented rewrite: context loads (struct xdp_md, struct __sk_buff) become loads of
          // the kernel's own structures: same registers, another width and offset
          const ctx = /^r(\d+) = \*\(u(?:64|32|16|8) \*\)\(r(\d+) \+(\d+)\)$/.exec(a);
          const ourCtx = /^r(\d+) = \*\(u32 \*\)\(r(\d+) \+(\d+)\)$/.exec(b);
          if (ctx && ourCtx && ctx[1] === ourCtx[1] && ctx[2] === ourCtx[2]) {
            rewritten++;
            continue;
          }
          assert.equal(b, a, `${kp.name}: insn ${i}`);
        }
        if (rewritten) notes.push(`${kp.name}: ${rewritten} context loads widened by the kernel`);
      }
      if (notes.length) console.log(`  ${file}: ${notes.join('; ')}`);
    });
  }
});
