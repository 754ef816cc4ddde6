/**
 * A TCP proxy a test controls, between a client (an agent, the CLI) and the control plane: it
 * keeps every byte each connection carried, both ways, and cuts the link on demand. Two kinds of
 * cut: `reset` closes every connection and refuses new ones (a peer that is gone), `stall` stops
 * carrying bytes and holds them until the link is restored (a partition that heals: TCP then
 * delivers what it held).
 */
import { createServer, type Server, Socket } from 'node:net';

export type CutMode = 'reset' | 'stall';

export interface TcpProxy {
  url: string;
  /** Per connection, every byte the client sent toward the server. */
  toServer(): Buffer[];
  /** Per connection, every byte the server sent back. */
  fromServer(): Buffer[];
  /** Connections turned away or closed by a `reset` cut. */
  refused(): number;
  cut(mode?: CutMode): void;
  restore(): void;
  close(): Promise<void>;
}

interface Pipe {
  client: Socket;
  server: Socket;
  up: Buffer[];
  down: Buffer[];
  /** Bytes held during a stall, in order, with their direction. */
  held: Array<{ to: Socket; chunk: Buffer }>;
}

export async function startProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const pipes: Pipe[] = [];
  let state: 'open' | CutMode = 'open';
  let refused = 0;

  const carry = (pipe: Pipe, to: Socket, chunk: Buffer): void => {
    if (state === 'stall') pipe.held.push({ to, chunk });
    else if (!to.destroyed) to.write(chunk);
  };

  const server: Server = createServer((client) => {
    if (state === 'reset') {
      refused += 1;
      client.resetAndDestroy();
      return;
    }
    const upstream = new Socket();
    const pipe: Pipe = { client, server: upstream, up: [], down: [], held: [] };
    pipes.push(pipe);
    upstream.connect(Number(port), hostname);
    client.on('data', (chunk: Buffer) => {
      pipe.up.push(chunk);
      carry(pipe, upstream, chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      pipe.down.push(chunk);
      carry(pipe, client, chunk);
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', end);
      socket.on('close', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const listening = typeof address === 'object' && address !== null ? address.port : 0;

  return {
    url: `http://127.0.0.1:${listening}`,
    toServer: () => pipes.map((p) => Buffer.concat(p.up)),
    fromServer: () => pipes.map((p) => Buffer.concat(p.down)),
    refused: () => refused,
    cut: (mode = 'reset') => {
      state = mode;
      if (mode === 'reset')
        for (const pipe of pipes) {
          if (pipe.client.destroyed) continue;
          refused += 1;
          pipe.client.resetAndDestroy();
          pipe.server.destroy();
        }
    },
    restore: () => {
      state = 'open';
      for (const pipe of pipes)
        for (const { to, chunk } of pipe.held.splice(0)) if (!to.destroyed) to.write(chunk);
    },
    close: async () => {
      for (const pipe of pipes) {
        pipe.client.destroy();
        pipe.server.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
