/**
 * The one place a run command decides what it talks to: the control plane (`--server <url>` or
 * DR_SERVER: it reads the sites and Redis itself, so the command needs neither REDIS_URL nor a
 * simulator URL), or, with neither set, Redis (REDIS_URL) and the sites (--sim / DR_SIM_URL)
 * directly, as before the control plane existed.
 */
import {
  createHttpExecutionClient,
  type ExecutionClient,
  type HttpExecutionClient,
  serverUrlFrom,
} from '../../client/index.ts';
import { InputError } from '../../common/index.ts';
import {
  type AwaitedApproval,
  createQueueConnection,
  DEFAULT_PREFIX,
  describeApprovals,
  describePaused,
  type LifecycleInfo,
  type LifecycleRunInfo,
  type PausedStep,
  readLifecycle,
  readLifecycleRun,
} from '../../executor/index.ts';
import type { HostDriver } from '../../hosts/index.ts';
import { connectHostDriver, simUrlFrom } from '../host-driver.ts';
import { type CommonFlags, openClient, redisUrlFromEnv } from './common.ts';

export interface ConnectFlags extends CommonFlags {
  server?: string;
  sim?: string;
  /** The API token. @defaultValue DR_TOKEN, else the one `drctl up` wrote for the server */
  token?: string;
  /** The CA certificates (PEM) an https server is trusted by (an in-process caller's). @defaultValue engine/client/tls.ts's */
  ca?: string;
}

/** `--server`: on every command that can run through the control plane. */
export const SERVER_OPTION = [
  '--server <url>',
  "the control plane's URL (`drctl up`, `drctl serve`; default DR_SERVER, else https://127.0.0.1:7080); with neither, a REDIS_URL or --sim keeps the command on the direct path (Redis and the sites from this process)",
] as const;

export interface Connection {
  client: ExecutionClient;
  /** The control plane's client, when the command goes through it. */
  remote?: HttpExecutionClient;
  /** Direct path, when asked for (`sites`): the hosts pre-flight and the gap measure read. */
  sites?: HostDriver & { close(): void };
  /** What the execution waits on an operator for (drctl status). */
  operatorWaits(id: string): Promise<{ paused: PausedStep[]; approvals: AwaitedApproval[] }>;
  /** A failover's lifecycle record, and a lifecycle run's own (drctl status). */
  lifecycle: LifecycleReader;
  close(): Promise<void>;
}

export interface LifecycleReader {
  failover(id: string): Promise<LifecycleInfo>;
  run(id: string): Promise<LifecycleRunInfo | undefined>;
}

/**
 * True when the command goes through the control plane: `--server` or DR_SERVER, or neither and
 * nothing that names the older direct path either (then the one `drctl up` and `drctl serve`
 * listen on by default). A REDIS_URL or a `--sim` without either keeps the direct path.
 */
export function usesServer(flags: { server?: string; sim?: string }): boolean {
  if (flags.server !== undefined || (process.env.DR_SERVER ?? '') !== '') return true;
  return (process.env.REDIS_URL ?? '') === '' && flags.sim === undefined;
}

/**
 * The client of a run command. `sites` says why the direct path needs the sites (pre-flight
 * before a drill or failover); the control plane reads them itself. Flags that only the direct
 * path reads are refused with `--server` rather than ignored.
 */
export async function connectClient(
  flags: ConnectFlags,
  options: { sites?: string } = {},
): Promise<Connection> {
  if (usesServer(flags)) {
    const server = serverUrlFrom(flags.server);
    if (flags.sim !== undefined)
      throw new InputError(
        'SERVER_READS_SITES',
        `--sim with the control plane at ${server}: it reads the sites itself; drop --sim (or --server and DR_SERVER to work directly)`,
      );
    if (flags.prefix !== DEFAULT_PREFIX)
      throw new InputError(
        'SERVER_HAS_PREFIX',
        `--prefix ${flags.prefix} with the control plane at ${server}: its prefix is the one \`drctl serve --prefix\` was given; drop --prefix`,
      );
    const remote = createHttpExecutionClient({
      server,
      ...(flags.token === undefined ? {} : { token: flags.token }),
      ...(flags.ca === undefined ? {} : { ca: flags.ca }),
    });
    return {
      client: remote,
      remote,
      operatorWaits: (id) => remote.operatorWaits(id),
      lifecycle: {
        failover: async (id) => (await remote.lifecycle(id)).failover ?? { runs: [] },
        run: async (id) => (await remote.lifecycle(id)).run,
      },
      close: () => remote.close(),
    };
  }
  const sites =
    options.sites === undefined ? undefined : connectHostDriver(simUrlFrom(flags.sim, options.sites));
  let client: ExecutionClient;
  try {
    client = await openClient(flags, undefined, sites);
  } catch (error) {
    sites?.close();
    throw error;
  }
  // The status reads beside the client's, on a connection of their own opened when first needed.
  let redis: ReturnType<typeof createQueueConnection> | undefined;
  const vault = async () => {
    redis ??= createQueueConnection(await redisUrlFromEnv(), { name: 'drctl-status' });
    return redis;
  };
  const prefix = flags.prefix;
  return {
    client,
    ...(sites === undefined ? {} : { sites }),
    operatorWaits: async (id) => ({
      paused: await describePaused(await vault(), prefix, id),
      approvals: await describeApprovals(await vault(), prefix, id),
    }),
    lifecycle: {
      failover: async (id) => await readLifecycle(await vault(), prefix, id),
      run: async (id) => await readLifecycleRun(await vault(), prefix, id),
    },
    close: async () => {
      await client.close();
      sites?.close();
      redis?.disconnect();
    },
  };
}
