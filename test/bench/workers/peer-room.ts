/**
 * The peer: the same echo and broadcast as the floor, built on PartyServer
 * (`Server`, hibernating like nanotypeDB's rooms), so the suite compares
 * nanotypeDB against a maintained library doing the same job in the same run.
 *
 *   echo:<n>         → the same text
 *   broadcast:<text> → <text> to every other connection (PartyServer's `broadcast`)
 *
 * Served by baseline-worker.ts at /parties/peer-room/:name; local benchmarking only.
 */
import { Server, type Connection, type WSMessage } from "partyserver";

export class PeerRoom extends Server {
  static override options = { hibernate: true };

  override onMessage(connection: Connection, message: WSMessage): void {
    if (typeof message !== "string") return;
    if (message.startsWith("echo:")) {
      connection.send(message);
    } else if (message.startsWith("broadcast:")) {
      this.broadcast(message.slice("broadcast:".length), [connection.id]);
    } else {
      connection.send(`error:unknown op`);
    }
  }
}
