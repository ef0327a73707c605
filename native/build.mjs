// build.mjs: the package's install script. It builds the live-capture module
// (native/afpacket.c, Node-API) with node-gyp on Linux. Anything that stops the build is
// reported in one line and the install goes on: replay does not need the module, only
// `bpfbox live` does (appliance/live/native.ts says the same when it is missing).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const HOW = 'apt-get install -y g++ make python3, then npm rebuild bpfbox';

/** skip: the one line saying why there is no module, and a successful exit. */
function skip(reason) {
  process.stderr.write(`bpfbox: the live-capture module was not built (${reason}); replay works; \`bpfbox live\` needs it: ${HOW}\n`);
  process.exit(0);
}

try {
  if (process.platform !== 'linux') skip(`${process.platform} is not Linux`);
  const gyp =
    process.env.npm_config_node_gyp ||
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (!existsSync(gyp)) skip(`node-gyp not found at ${gyp}`);
  const args = [gyp, 'rebuild', '--directory', 'native'];
  if (!process.env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) skip(`node-gyp did not run: ${r.error.message}`);
  if (r.status !== 0) {
    const lines = `${r.stderr}`.split('\n').filter((l) => /error|not found|No such/i.test(l));
    skip(`node-gyp exited with ${r.status ?? r.signal}${lines.length ? `: ${lines[0].trim().slice(0, 200)}` : ''}`);
  }
} catch (e) {
  skip(e instanceof Error ? e.message : String(e));
}
