/**
 * `drctl agent --site <site> --hosts <url> --server <api>`: the site's agent, the one process that
 * talks to the site's hosts. It reaches the control plane over its HTTP API only (no Redis) until
 * SIGTERM/SIGINT, then lets running units finish (bounded) and posts their reports.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  checkSiteLeaseOptions,
  inventoryReporter,
  loadIdentity,
  registerAgent,
  startAgent,
} from '../agent/index.ts';
import { serverUrlFrom } from '../client/http-request.ts';
import { createLogger, DrError } from '../common/index.ts';
import { CONTROL_VERSION } from '../control/index.ts';
import { connectHostDriver, HOSTS_OPTION_HELP } from './host-driver.ts';
import { agentStateDirFrom } from './trust-setup.ts';

interface AgentFlags {
  site: string;
  hosts: string;
  server?: string;
  concurrency: number;
  heartbeatMs: number;
  fenceSweepMs: number;
  inventoryCycleMs: number;
  scriptCatalog?: string;
  shutdownTimeoutMs: number;
  replace?: boolean;
  stateDir?: string;
  register?: string;
  json?: boolean;
  peerListen?: string;
  peerAdvertise?: string;
  peer?: string;
  arbiter?: string;
  hostEndpoint: string[];
  failsafe?: boolean;
  siteLeaseMs: number;
  fenceTimeMs: number;
}

function hostPort(value: string): string {
  if (!/^[\w.-]+:\d{1,5}$|^\[[\d:a-fA-F]+\]:\d{1,5}$/.test(value))
    throw new InvalidArgumentError(`expected host:port, got "${value}"`);
  return value;
}

function httpUrl(value: string): string {
  if (!/^https?:\/\/\S+$/.test(value))
    throw new InvalidArgumentError(`expected an http(s) URL, got "${value}"`);
  return value;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return n;
}

export function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description(
      "Run a site's agent: the only process that talks to the site's hosts; it reaches the control plane (drctl serve) over HTTP only and needs no Redis",
    )
    .requiredOption('--site <site>', 'the site whose hosts this agent serves')
    .addOption(new Option('--hosts <url>', HOSTS_OPTION_HELP).env('DR_SIM_URL').makeOptionMandatory())
    .option('--server <url>', "the control plane's URL (default: DR_SERVER, else https://127.0.0.1:7080)")
    .option('--concurrency <n>', 'units run at once', positiveInt, 200)
    .option('--heartbeat-ms <ms>', 'how often a heartbeat goes to the control plane', positiveInt, 1000)
    .option(
      '--fence-sweep-ms <ms>',
      'how often the hosts are looked at for old primaries back from a lost site (0: never)',
      nonNegativeInt,
      10_000,
    )
    .option(
      '--script-catalog <dir>',
      'folder of recovery scripts run at this site (default: DR_SCRIPT_CATALOG)',
    )
    .option(
      '--shutdown-timeout-ms <ms>',
      'on SIGTERM, how long running units may finish',
      positiveInt,
      10_000,
    )
    .option(
      '--inventory-cycle-ms <ms>',
      "every VM's inventory goes to the control plane at least this often (changes sooner): the replication cycle",
      positiveInt,
      30_000,
    )
    .option(
      '--replace',
      "take the site over from its running agent (else refused while that one's session is live)",
    )
    .option(
      '--state-dir <dir>',
      "the agent's own key (0600) and certificate, one folder a site (default: DR_AGENT_STATE_DIR, else $XDG_STATE_HOME/drorch/agent)",
    )
    .option(
      '--register <key>',
      'register first with this key from `drctl site register <site>` (a key made here, a certificate for it)',
    )
    .option(
      '--peer-listen <host:port>',
      "listen for the peer site's agent here (its relayed renewals, the witness's GET /alive; port 0: a free one)",
      hostPort,
    )
    .option(
      '--peer-advertise <url>',
      'the peer listener as other sites reach it (default: its own URL)',
      httpUrl,
    )
    .option(
      '--peer <url>',
      "the peer site's agent listener, renewals are relayed through it (default: the one the control plane names)",
      httpUrl,
    )
    .option('--arbiter <url>', 'a third-site arbiter (drctl arbiter) renewals also go to', httpUrl)
    .option(
      '--host-endpoint <host:port>',
      "a host's management endpoint the peer site's witness may TCP-connect to (repeatable)",
      (value: string, previous: string[]) => [...previous, hostPort(value)],
      [] as string[],
    )
    .option(
      '--failsafe',
      'fence the site (turn its running primaries off) when neither the control plane, the peer site nor the arbiter acknowledges a renewal for the lease minus the fence time',
    )
    .option(
      '--site-lease-ms <ms>',
      'the site lease the failsafe assumes until the control plane says its own (the shorter is used)',
      positiveInt,
      30_000,
    )
    .option(
      '--fence-time-ms <ms>',
      'the fence time floor (the measured one is used when longer)',
      positiveInt,
      1000,
    )
    .option('--json', 'print the ready line as JSON')
    .action(async (flags: AgentFlags) => {
      const siteLease = {
        ...(flags.peerListen === undefined ? {} : { peerListen: flags.peerListen }),
        ...(flags.peerAdvertise === undefined ? {} : { peerAdvertise: flags.peerAdvertise }),
        ...(flags.peer === undefined ? {} : { peer: flags.peer }),
        ...(flags.arbiter === undefined ? {} : { arbiter: flags.arbiter }),
        hostEndpoints: flags.hostEndpoint,
        ...(flags.failsafe === true
          ? { failsafe: { leaseMs: flags.siteLeaseMs, fenceMs: flags.fenceTimeMs } }
          : {}),
      };
      try {
        checkSiteLeaseOptions(siteLease);
      } catch (error) {
        throw new DrError('BAD_FAILSAFE', `--site-lease-ms / --fence-time-ms: ${(error as Error).message}`, {
          exitCode: 2,
        });
      }
      const server = serverUrlFrom(flags.server);
      const logger = createLogger('agent');
      const stateDir = agentStateDirFrom(flags.stateDir);
      if (flags.register !== undefined) {
        const registered = await registerAgent({
          server,
          site: flags.site,
          key: flags.register,
          dir: stateDir,
        });
        logger.info(
          {
            site: flags.site,
            serial: registered.serial,
            notAfter: new Date(registered.notAfter).toISOString(),
          },
          'agent registered with the vault',
        );
      }
      // Over https (the vault's control plane) the agent needs its certificate; plain http has none.
      const identity = server.startsWith('https:') ? loadIdentity(stateDir, flags.site) : undefined;
      // Many VMs' readiness at once: guests already heard from need no long poll.
      const hosts = connectHostDriver(flags.hosts, {
        readBeforeHeartbeatWait: true,
        option: '--hosts',
      });
      const agent = startAgent({
        site: flags.site,
        server,
        api: hosts,
        version: CONTROL_VERSION,
        concurrency: flags.concurrency,
        heartbeatMs: flags.heartbeatMs,
        ...(flags.replace === true ? { replace: true } : {}),
        fenceSweepMs: flags.fenceSweepMs,
        reporters: [inventoryReporter({ cycleMs: flags.inventoryCycleMs })],
        logger,
        handlers: flags.scriptCatalog === undefined ? {} : { scriptCatalog: flags.scriptCatalog },
        ...(identity === undefined ? {} : { identity }),
        // Without any of its flags the agent runs as before: heartbeats alone.
        ...(Object.keys(siteLease).length > 1 || flags.hostEndpoint.length > 0 ? { siteLease } : {}),
      });
      const signalled = new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
      });
      try {
        await Promise.race([agent.ready(), signalled]);
      } catch (error) {
        hosts.close();
        await agent.close(0);
        throw error;
      }
      const peerUrl = agent.siteLease()?.peerUrl;
      const line = {
        ready: true,
        site: flags.site,
        agentId: agent.agentId,
        pid: process.pid,
        server,
        ...(peerUrl === undefined ? {} : { peerUrl }),
      };
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(line)}\n`
          : `agent ${agent.agentId} for ${flags.site} connected to ${server} (pid ${process.pid})\n`,
      );
      const why = await Promise.race([signalled, agent.stopped]);
      await agent.close(flags.shutdownTimeoutMs);
      hosts.close();
      if (why instanceof DrError) throw why;
      setTimeout(() => process.exit(0), 1000).unref();
    });
}
