/**
 * A TCP relay on 127.0.0.1 in front of a local server, for crash tests
 * (test/node/exactly-once-kill.test.ts): clients talk to the relay, which can
 * hold back every answer, on open and new connections alike (requests still
 * pass, so the server applies them and its answers are lost), and then drop
 * every connection — a network that loses answers, then a crash. After the
 * drop, connections go straight through again; while the server is down the
 * relay accepts them and closes them at once.
 */
import { connect, createServer, type Socket } from "node:net";

export interface TcpRelay {
  /** `http://127.0.0.1:<relay port>` */
  readonly url: string;
  /** Stops forwarding the server's bytes, on every open and every new connection, until dropConnections(); requests keep flowing. */
  holdAnswers(): void;
  /** Destroys every connection open now (clients see a reset) and ends a hold: new connections relay both ways again. */
  dropConnections(): void;
  /** Drops every connection and stops listening. */
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  server: Socket;
}

/** Listens on a free port of 127.0.0.1 and relays each connection to `127.0.0.1:<targetPort>`. */
export async function startTcpRelay(targetPort: number): Promise<TcpRelay> {
  const pairs = new Set<Pair>();
  let holding = false;
  const hold = ({ client, server }: Pair) => {
    server.unpipe(client);
    server.pause();
  };
  const listener = createServer((client) => {
    const server = connect(targetPort, "127.0.0.1");
    const pair = { client, server };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    for (const socket of [client, server]) {
      socket.on("error", end);
      socket.on("close", end);
    }
    client.pipe(server);
    server.pipe(client);
    if (holding) hold(pair);
  });
  await new Promise<void>((listening, reject) => {
    listener.once("error", reject);
    listener.listen(0, "127.0.0.1", () => listening());
  });
  const address = listener.address();
  if (!address || typeof address === "string") throw new Error("the relay has no port");
  const dropConnections = () => {
    holding = false;
    for (const pair of [...pairs]) {
      pairs.delete(pair);
      pair.client.destroy();
      pair.server.destroy();
    }
  };
  return {
    url: `http://127.0.0.1:${address.port}`,
    holdAnswers() {
      holding = true;
      for (const pair of pairs) hold(pair);
    },
    dropConnections,
    async close() {
      dropConnections();
      await new Promise((closed) => listener.close(closed));
    },
  };
}
