import type { ProgObject } from '../../kernel/objects.js';
import type { Session } from '../service/session.js';
import { EventTap } from '../datapath/eventTap.js';
import { eventMaps, openPerfEvents } from '../datapath/events.js';
import { mapsEventTyper } from '../datapath/eventTypes.js';
import { EventsFile } from '../datapath/sinks/eventsFile.js';

/**
 * RunEvents is `prog run … --events FILE`: the file is opened before the run (a path that does
 * not open fails before the program changes its maps), the program's perf event arrays get a
 * "perf event" in CPU 0's slot (test runs run on CPU 0; the slot stays, as a perf reader's
 * would until it closes), the ring buffers are read as they fill, and `finish` writes what
 * the run (every repetition of it) sent, as replay's --events does.
 */
export class RunEvents {
  readonly #file: EventsFile;
  readonly #tap: EventTap;
  readonly #maps: ReturnType<typeof eventMaps>;

  constructor(s: Session, p: ProgObject, path: string) {
    this.#file = new EventsFile(path, mapsEventTyper(p));
    this.#maps = eventMaps(p);
    openPerfEvents(p, 1);
    this.#tap = new EventTap(s.kernel.runtime(0), this.#maps, true);
  }

  /** finish writes the run's events and closes the file; it returns how many there were. */
  finish(): number {
    const b = this.#tap.take();
    if (b?.records) this.#file.write(b.records, this.#maps);
    this.#file.close();
    return this.#file.written;
  }
}
