import type { Kernel } from '../../kernel/kernel.js';
import { pinmapsName } from './pinName.js';
import { FilePinStore, stateDir } from './filePinStore.js';

/**
 * pinReplayMaps pins every map of a finished replay under `dir` in the state directory
 * (`replay --pinmaps DIR`, a config program's `pinmaps:`), named as `prog loadall … pinmaps`
 * names them, so that `bpfbox map dump pinned DIR/NAME` shows what the run left. A replay's
 * kernel is its own (its CPUs are the workers), so the pins are copies under ids of the state
 * directory; per-CPU maps keep one slot per worker. Pins a previous run left are replaced.
 * Returns the pinned paths.
 */
export function pinReplayMaps(kernel: Kernel, maps: ReadonlyMap<string, number>, dir: string, bpffs?: string): string[] {
  const store = new FilePinStore(stateDir(bpffs));
  return store.locked(() => {
    store.mkdirs(dir);
    const out: string[] = [];
    for (const [name, fd] of maps) {
      const path = `${dir.replace(/\/+$/, '')}/${pinmapsName(name)}`;
      store.pinCopy(path, kernel.process.mapOf(fd).map);
      out.push(path);
    }
    return out;
  });
}
