import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ENGINES } from '../../vm/engines.js';
import { REPO_ROOT } from '../support/paths.js';
import { bpfbox, tempState } from './cliSupport.js';

/** bpftoolHelp: the real bpftool's `OBJECT help` (it prints on stdout or stderr by version), or undefined where none is installed. */
function bpftoolHelp(object: string): string | undefined {
  const r = spawnSync('bpftool', [object, 'help'], { encoding: 'utf8' });
  if (r.error) return undefined;
  return r.stdout + r.stderr;
}

/** words: a grammar line's words, whitespace-normalised and with the program's name dropped. */
const words = (line: string) =>
  line
    .trim()
    .replace(/^Usage:\s*/, '')
    .replace(/\s+/g, ' ');

describe("bpfbox help: each object in bpftool's grammar, every command, every option described", function () {
  this.timeout(60_000);
  const state = tempState();
  after(() => rmSync(state, { recursive: true, force: true }));

  for (const object of ['prog', 'map', 'net'] as const) {
    it(`${object} help / --help / -h: the grammar, exit 0, and every verb it names is one the command takes`, () => {
      const outs = ['help', '--help', '-h'].map((w) => bpfbox(state, object, w));
      for (const r of outs) {
        assert.equal(r.code, 0, r.err);
        assert.equal(r.out, outs[0].out, 'help, --help and -h print the same');
      }
      const text = outs[0].out;
      assert.match(text, new RegExp(`^Usage: bpfbox ${object} `));
      assert.match(text, new RegExp(`^ +bpfbox ${object} help$`, 'm'));
      // every verb the grammar names runs (its own error, never "unknown … command")
      const verbs = new Set<string>();
      for (const m of text.matchAll(new RegExp(`bpfbox ${object} (\\{[^}]*\\}|\\w+)`, 'g')))
        for (const v of m[1].replace(/[{}]/g, '').split('|')) verbs.add(v.trim());
      verbs.delete('help');
      assert.ok(verbs.size >= 3, [...verbs].join(' '));
      for (const v of verbs) {
        const r = bpfbox(state, object, v, 'nosuchref', 'x');
        assert.doesNotMatch(r.err + r.out, /unknown \w+ command/, `${object} ${v} is a verb bpfbox takes`);
      }
    });
  }

  it("prog and map help: the forms and the word definitions bpftool has read as bpftool's (where bpftool is installed)", function () {
    const prog = bpftoolHelp('prog');
    const map = bpftoolHelp('map');
    if (!prog || !map) {
      console.log('    (skipped: no bpftool on this machine to compare with)');
      this.skip();
    }
    for (const [object, real] of [
      ['prog', prog!],
      ['map', map!],
    ] as const) {
      const ours = bpfbox(state, object, 'help').out.split('\n').map(words);
      const theirs = real.split('\n').map(words);
      // the shared definitions, word for word
      for (const def of ['PROG :=', 'MAP :=', 'DATA :=', 'VALUE :=', 'UPDATE_FLAGS :=']) {
        const t = theirs.find((l) => l.startsWith(def));
        const o = ours.find((l) => l.startsWith(def));
        if (t && o) assert.equal(o, t, `${object}: ${def}`);
      }
      // each of bpftool's forms that names a verb bpfbox has appears with bpftool's words (bpftool → bpfbox)
      const simple = theirs.filter((l) =>
        /^bpftool \w+ (\{ show \| list \}|dump xlated|pin|update|lookup|getnext|delete|push|pop|peek|freeze|enqueue|dequeue|tracelog|help)\b/.test(
          l,
        ),
      );
      assert.ok(simple.length >= 2, `forms found in bpftool ${object} help`);
      for (const l of simple) {
        const want = l.replace(/^bpftool/, 'bpfbox').replace(/\[\{ file FILE \| opcodes \| visual \| linum \}\]/, '[linum]');
        assert.ok(ours.includes(want), `${object} help has: ${want}\n${ours.join('\n')}`);
      }
    }
  });

  it('the top level lists every command, prog run among them; `help` and `COMMAND help` work as --help', () => {
    const top = bpfbox(state, '--help');
    assert.equal(top.code, 0, top.err);
    for (const c of ['conformance', 'replay', 'live', 'serve', 'verify', 'net', 'map', 'prog'])
      assert.match(top.out, new RegExp(`^  bpfbox ${c}\\b`, 'm'), c);
    assert.match(top.out.replace(/\s+/g, ' '), /prog commands: [^)]*\brun\b/);
    assert.match(top.out.replace(/\s+/g, ' '), /prog commands: [^)]*\btracelog\b/);
    assert.equal(bpfbox(state, 'help').out, top.out);
    const replay = bpfbox(state, 'replay', 'help');
    assert.equal(replay.code, 0);
    assert.match(replay.out, /^bpfbox replay \[captures\.\.\]/);
  });

  it('every option of every yargs command has a description (--flush-ms among them)', () => {
    for (const c of ['conformance', 'replay', 'live', 'serve', 'verify']) {
      const r = bpfbox(state, c, '--help');
      assert.equal(r.code, 0, r.err);
      // an option line: the flag, then (after two or more spaces) a description before yargs' [type] tags
      const lines = r.out.split('\n').filter((l) => /^\s+(-\w, )?--[\w-]+/.test(l));
      assert.ok(lines.length > 2, c);
      for (const l of lines) assert.match(l, /^\s+(-\w, )?--[\w-]+(\s{2,})[a-zA-Z"'(]/, `${c}: described: ${l}`);
    }
    assert.match(bpfbox(state, 'serve', '--help').out, /--flush-ms\s+\S+/);
  });

  it("--version and -V print package.json's version; --engine names the engines vm/engines.ts has", () => {
    const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    for (const f of ['--version', '-V']) {
      const r = bpfbox(state, f);
      assert.deepEqual([r.code, r.out], [0, `${version}\n`]);
    }
    const r = bpfbox(state, '--engine', 'nope', 'map', 'show');
    assert.equal(r.err, `Error: --engine: expected one of ${ENGINES.join(', ')}\n`);
  });
});
