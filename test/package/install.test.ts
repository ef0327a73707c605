import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';

/**
 * What a user of the package does: `npm pack`, install the tarball in a project of their own,
 * import 'bpfbox' from TypeScript, type-check (NodeNext, lib ES2022 without the DOM, library
 * checks on) and run it; and run the `bpfbox` command it installs. The TypeScript run is the
 * README's "Use as a library" block. The tarball is packed from dist/ as the suite's own
 * `npm run build` left it (tsc and the CLI's bundle; `prepare` runs the same), so packing skips scripts.
 */
const NPM_FLAGS = ['--no-audit', '--no-fund', '--no-update-notifier', '--loglevel=error'];
const npm = (args: readonly string[], cwd: string) =>
  spawnSync('npm', [...args, ...NPM_FLAGS], { cwd, encoding: 'utf8', timeout: 180_000 });
const lastLine = (s: string) => s.trim().split('\n').pop() ?? '';
/** npmError: npm's error lines, less the one pointing at its log. */
const npmError = (s: string) =>
  s
    .split('\n')
    .filter((l) => l.startsWith('npm error') && !l.includes('complete log'))
    .slice(0, 2)
    .join('; ');

interface PackEntry {
  readonly filename: string;
  readonly size: number;
  readonly unpackedSize: number;
  readonly files: readonly { readonly path: string }[];
}

describe('the npm package', function () {
  this.timeout(300_000);

  it("holds the compiled library, its declarations, the CLI, config/schema.json and the live-capture module's source; no tests, benches, fixtures or source maps", () => {
    const r = npm(['pack', '--dry-run', '--json', '--ignore-scripts'], REPO_ROOT);
    assert.equal(r.status, 0, r.stderr);
    const [pack] = JSON.parse(r.stdout) as PackEntry[];
    const files = pack.files.map((f) => f.path);
    for (const need of [
      'package.json',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/bundle/cli/bpfbox',
      'dist/bundle/cli/main.js',
      'dist/bundle/cli/worker.js',
      'dist/bundle/cli/liveWorker.js',
      'dist/appliance/datapath/worker.js',
      'dist/kernel/kernel.d.ts',
      'config/schema.json',
    ]) {
      assert.ok(files.includes(need), `${need} is missing`);
    }
    assert.deepEqual(
      files.filter((f) => /(^|\/)(test|bench|fixtures)\//.test(f) || f.endsWith('.map') || (f.endsWith('.ts') && !f.endsWith('.d.ts'))),
      [],
    );
    assert.deepEqual(files.filter((f) => !f.startsWith('dist/')).sort(), [
      'README.md',
      'config/schema.json',
      'native/afpacket.c',
      'native/binding.gyp',
      'native/build.mjs',
      'package.json',
    ]);
  });

  describe('installed from its tarball in a project of its own', () => {
    let dir: string;
    let project: string;
    let installStderr = '';
    before(function () {
      dir = mkdtempSync(join(tmpdir(), 'bpfbox-pack-'));
      const packed = npm(['pack', '--json', '--ignore-scripts', '--pack-destination', dir], REPO_ROOT);
      assert.equal(packed.status, 0, packed.stderr);
      const tgz = join(dir, (JSON.parse(packed.stdout) as PackEntry[])[0].filename);
      project = join(dir, 'project');
      mkdirSync(join(project, 'bpf'), { recursive: true });
      writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
      // the dependencies come from npm's cache (npm ci filled it); the registry only if the cache lacks them
      const types = `@types/node@${JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', '@types', 'node', 'package.json'), 'utf8')).version}`;
      let installed = npm(['install', '--offline', tgz, types], project);
      if (installed.status !== 0) installed = npm(['install', '--prefer-offline', tgz, types], project);
      if (installed.status !== 0) {
        console.log(
          `  npm package install: SKIPPED: npm cannot install the tarball's dependencies (no cache, no registry): ${npmError(installed.stderr) || String(installed.error)}`,
        );
        this.skip();
      }
      installStderr = installed.stderr;
      copyFileSync(join(REPO_ROOT, 'bpf', 'xdp_stats.o'), join(project, 'bpf', 'xdp_stats.o'));
    });
    after(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('its install script built the live-capture module, or said in one line why not and let the install succeed', () => {
      const built = existsSync(join(project, 'node_modules', 'bpfbox', 'native', 'build', 'Release', 'afpacket.node'));
      const said = installStderr.split('\n').filter((l) => l.startsWith('bpfbox: the live-capture module was not built ('));
      if (process.platform === 'linux') assert.ok(built || said.length === 1, `no module and no reason: ${installStderr}`);
      assert.ok(!built || said.length === 0);
      if (!built) console.log(`    (${said[0]})`);
    });

    it("type-checks and runs the README's example against 'bpfbox'", () => {
      const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
      const example = /## Use as a library\n[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
      if (!example?.includes("from 'bpfbox'")) assert.fail('README.md has no "Use as a library" example importing bpfbox');
      writeFileSync(join(project, 'main.ts'), example);
      writeFileSync(
        join(project, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            target: 'ES2022',
            lib: ['ES2022'],
            types: ['node'],
            strict: true,
            skipLibCheck: false,
            outDir: 'out',
          },
          files: ['main.ts'],
        }),
      );
      const tsc = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], {
        cwd: project,
        encoding: 'utf8',
        timeout: 180_000,
      });
      assert.equal(tsc.status, 0, `tsc: ${tsc.stdout}${tsc.stderr}`);
      const run = spawnSync(process.execPath, ['out/main.js'], { cwd: project, encoding: 'utf8', timeout: 60_000 });
      assert.equal(run.status, 0, run.stderr);
      // drop_proto=17 drops the UDP frame; proto_stats {0x0800, 17} counts it: 1 packet of 60 bytes
      assert.equal(run.stdout, 'XDP_DROP 1n 60n\n');
    });

    it('runs the bpfbox command it installs: verify, and replay on a worker thread', () => {
      const bin = join(project, 'node_modules', '.bin', 'bpfbox');
      // --version is answered by the shell entry, the rest by Node: both give package.json's version
      const pkgVersion = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
      for (const flag of ['--version', '-V']) {
        const v = spawnSync(bin, [flag], { cwd: project, encoding: 'utf8', timeout: 60_000 });
        assert.equal(v.status, 0, v.stderr);
        assert.equal(v.stdout, `${pkgVersion}\n`);
      }
      assert.equal(
        spawnSync(process.execPath, [join(project, 'node_modules', 'bpfbox', 'dist', 'bundle', 'cli', 'main.js'), '--version'], {
          encoding: 'utf8',
        }).stdout,
        `${pkgVersion}\n`,
      );
      const verify = spawnSync(bin, ['verify', 'bpf/xdp_stats.o'], { cwd: project, encoding: 'utf8', timeout: 60_000 });
      assert.equal(verify.status, 0, verify.stderr);
      assert.match(lastLine(verify.stdout), /^xdp_stats: accepted /);
      // the sample capture's records, counted here from their 16-byte headers
      const pcap = readFileSync(join(REPO_ROOT, 'pcaps', 'sample.pcap'));
      let records = 0;
      for (let o = 24; o < pcap.length; o += 16 + pcap.readUInt32LE(o + 8)) records++;
      const replay = spawnSync(
        bin,
        ['replay', join(REPO_ROOT, 'pcaps', 'sample.pcap'), '--obj', 'bpf/xdp_stats.o', '--workers', '1', '--json'],
        // a capture this short runs on the main thread unless told: the worker's bundle is what is checked here
        { cwd: project, encoding: 'utf8', timeout: 60_000, env: { ...process.env, BPFBOX_INLINE_BYTES: '0' } },
      );
      assert.equal(replay.status, 0, replay.stderr);
      const s = JSON.parse(replay.stdout) as { packets: number; per_cpu: number[]; inline?: boolean };
      assert.equal(s.packets, records);
      assert.deepEqual(s.per_cpu, [records]);
      assert.equal(s.inline, undefined, 'ran on a worker thread');
    });
  });
});
