/**
 * The D1 bookmark `sync.replicated` answers with: after a push is confirmed,
 * one query (`_replica_state`) in a D1 session that starts at the primary; that
 * session's bookmark is at least as new as the push, so a replica read opened
 * with it (`x-nanotype-bookmark`) sees the write. One read per confirmed seq,
 * shared by every caller it answers. Used only by sync-engine.ts.
 *
 * Pushes themselves stay on `db.batch` (not a session's batch: those are
 * different functions in workerd, and a D1 outage is injected on the former).
 */
export class ReplicaBookmark {
  #last: { seq: number; read: Promise<string | null> } | null = null;

  constructor(private readonly db: D1Database) {}

  /**
   * A bookmark that covers `replicatedSeq` (the seq D1 has confirmed for
   * `room`): reused while no later push is confirmed; null when D1 cannot be
   * read (a failed read is not kept, so the next caller tries again).
   */
  covering(replicatedSeq: number, room: string | null): Promise<string | null> {
    if (this.#last && this.#last.seq >= replicatedSeq) return this.#last.read;
    const entry = { seq: replicatedSeq, read: this.#read(room) };
    this.#last = entry;
    void entry.read.then((bookmark) => {
      if (bookmark === null && this.#last === entry) this.#last = null;
    });
    return entry.read;
  }

  async #read(room: string | null): Promise<string | null> {
    try {
      const session = this.db.withSession("first-primary");
      await session.prepare("SELECT seq FROM _replica_state WHERE room_id = ?").bind(room).first();
      return session.getBookmark();
    } catch (error) {
      console.warn("reading a D1 bookmark after replication failed; answering without one", error);
      return null;
    }
  }
}
