/**
 * A TCP proxy a test controls, between a client (an agent, the CLI) and the control plane: it
 * keeps every byte each connection carried, both ways, and cuts the link on demand. Two kinds of
 * cut: `reset` closes every connection and refuses new ones (a peer that is gone), `stall` stops
 * carrying bytes and holds them until the link is restored (a partition that heals: TCP then
 * delivers what it held).
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server, Socket } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer, type TLSSocket, connect as tlsConnect } from 'node:tls';

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

/**
 * With `tls`, the proxy ends TLS on both sides, so that what it keeps is the plain HTTP the
 * control plane received and sent, not TLS records: to its clients it presents `server` (a
 * certificate the vault's CA issued, which they trust), from each it requests a client
 * certificate, and toward the control plane it presents that same certificate with the agent's
 * key from `agentDir/<site>/agent.key` (the test's machine holds it), or none for the CLI.
 */
export interface ProxyTls {
  server: { cert: string; key: string };
  /** The CA certificates the control plane's certificate and the agents' chain to. */
  ca: readonly string[];
  /** drctl up's agents' state folder. */
  agentDir: string;
}

function pemOf(raw: Buffer): string {
  const b64 = raw.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/** The site an agent's certificate names (its CN), and the key the agent made for it. */
function clientCredentials(client: TLSSocket, agentDir: string): { cert: string; key: string } | undefined {
  const peer = client.getPeerCertificate();
  const site = peer?.subject?.CN;
  if (peer?.raw === undefined || typeof site !== 'string') return undefined;
  return { cert: pemOf(peer.raw), key: readFileSync(join(agentDir, site, 'agent.key'), 'utf8') };
}

export async function startProxy(target: string, tls?: ProxyTls): Promise<TcpProxy> {
  const { hostname, port, protocol } = new URL(target);
  const pipes: Pipe[] = [];
  let state: 'open' | CutMode = 'open';
  let refused = 0;

  const carry = (pipe: Pipe, to: Socket, chunk: Buffer): void => {
    if (state === 'stall') pipe.held.push({ to, chunk });
    else if (!to.destroyed) to.write(chunk);
  };

  const accept = (client: Socket): void => {
    if (state === 'reset') {
      refused += 1;
      client.resetAndDestroy();
      return;
    }
    const upstream =
      tls === undefined
        ? new Socket().connect(Number(port), hostname)
        : tlsConnect({
            host: hostname,
            port: Number(port),
            ca: [...tls.ca],
            ...clientCredentials(client as TLSSocket, tls.agentDir),
          });
    const pipe: Pipe = { client, server: upstream, up: [], down: [], held: [] };
    pipes.push(pipe);
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
  };
  const server: Server =
    tls === undefined
      ? createServer(accept)
      : createTlsServer(
          { ...tls.server, ca: [...tls.ca], requestCert: true, rejectUnauthorized: false },
          accept,
        );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const listening = typeof address === 'object' && address !== null ? address.port : 0;

  return {
    url: `${protocol}//127.0.0.1:${listening}`,
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
