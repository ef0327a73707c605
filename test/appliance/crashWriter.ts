// Rewrites one pinned map as fast as it can until killed: every round sets all 64 values to
// the round number, then writes the pin file. test/appliance/multiprocess.test.ts SIGKILLs it.
import { FilePinStore } from '../../appliance/bpffs/filePinStore.js';
import { Kernel } from '../../kernel/kernel.js';
import { MapType } from '../../uapi/mapType.js';

const dir = process.argv[2];
const store = new FilePinStore(dir);
const k = new Kernel({ pins: store, allocId: store.allocId, onWrite: (o) => store.touched(o) });
store.attach(k);
let fd = k.bpf('BPF_OBJ_GET', { pathname: '/sys/fs/bpf/crash' });
if (fd < 0) {
  fd = k.bpf('BPF_MAP_CREATE', { map_type: MapType.BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 8, max_entries: 64, map_name: 'crash' });
  k.bpf('BPF_OBJ_PIN', { pathname: '/sys/fs/bpf/crash', bpf_fd: fd });
}
const keys = new Uint8Array(64 * 4);
for (let i = 0; i < 64; i++) new DataView(keys.buffer).setUint32(4 * i, i, true);
const values = new Uint8Array(64 * 8);
const start = new Uint8Array(8);
k.bpf('BPF_MAP_LOOKUP_ELEM', { map_fd: fd, key: keys.subarray(0, 4), value: start });
let round = Number(new DataView(start.buffer).getBigUint64(0, true));
process.stdout.write('ready\n');
for (;;) {
  round++;
  for (let i = 0; i < 64; i++) new DataView(values.buffer).setBigUint64(8 * i, BigInt(round), true);
  k.bpf('BPF_MAP_UPDATE_BATCH', { map_fd: fd, keys, values, count: 64 });
  store.flush();
}
