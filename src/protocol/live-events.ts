/**
 * The events of an incremental live query (a "window": the first `limit` rows
 * of one table matching equality filters, by ascending id), as the room sends
 * them and clients apply them (src/client/live-window.ts). The wire contract
 * is documented in docs/live-data.md. Each event is a tRPC tracked event whose
 * id (`"<seq>:<last id>"`) a client sends back as `lastEventId` to resume.
 */

/** One event of a live window; `Row` always has a numeric `id`. */
export type WindowEvent<Row> =
  /** The whole window: the first result, or when a diff cannot be computed (`reason` says why). */
  | { type: "snapshot"; seq: number; rows: Row[]; reason?: string }
  /**
   * What changed since the previous event: rows to insert or replace (by id)
   * and ids to remove; the window stays ordered by id. `ids` (the whole window
   * in order) comes when a client resumes: keep exactly those rows, in that order.
   */
  | { type: "diff"; seq: number; upserts: Row[]; removes: number[]; ids?: number[] };
