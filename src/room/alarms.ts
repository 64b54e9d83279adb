/**
 * One storage alarm serves every background duty of a room: memory-store
 * expiry, debounced flushes, sync pushes and closing sockets whose token expired. Each duty says when it is next
 * due; the scheduler keeps the alarm at the earliest of them and only writes
 * it when it must move earlier. The alarm survives hibernation and
 * eviction: it is the backstop behind every in-memory timer.
 */

/** A background duty of the room. */
export interface AlarmDuty {
  readonly name: string;
  /** When the duty next needs to run (ms since the epoch), or null when idle. */
  nextDue(): number | null;
  /** Runs the duty. Throwing is logged; the alarm is rescheduled either way. */
  run(now: number): void | Promise<void>;
}

export class AlarmScheduler {
  /** The alarm currently set, as far as this instance knows; undefined until `load`. */
  #scheduled: number | null | undefined;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly duties: readonly AlarmDuty[],
  ) {}

  /** Reads the stored alarm (call once on start, inside blockConcurrencyWhile). */
  async load(): Promise<void> {
    this.#scheduled = await this.storage.getAlarm();
  }

  /** Moves the alarm earlier if a duty is due before it. Cheap when nothing changes. */
  async schedule(): Promise<void> {
    let due: number | null = null;
    for (const duty of this.duties) {
      const next = duty.nextDue();
      if (next !== null && (due === null || next < due)) due = next;
    }
    if (due === null) return;
    if (this.#scheduled != null && this.#scheduled <= due) return;
    this.#scheduled = due;
    await this.storage.setAlarm(due);
  }

  /** The earliest due time over the duties, and the duties due then (null when none is due). */
  next(): { at: number; duties: string[] } | null {
    let at: number | null = null;
    let duties: string[] = [];
    for (const duty of this.duties) {
      const due = duty.nextDue();
      if (due === null) continue;
      if (at === null || due < at) {
        at = due;
        duties = [duty.name];
      } else if (due === at) duties.push(duty.name);
    }
    return at === null ? null : { at, duties };
  }

  /** Runs every due duty (from the room's `alarm` handler), then reschedules. */
  async fire(now = Date.now()): Promise<void> {
    this.#scheduled = null;
    for (const duty of this.duties) {
      const due = duty.nextDue();
      if (due === null || due > now) continue;
      try {
        await duty.run(now);
      } catch (error) {
        console.error(`alarm duty ${duty.name} failed`, error);
      }
    }
    await this.schedule();
  }
}
