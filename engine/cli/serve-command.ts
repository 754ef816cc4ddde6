/**
 * `drctl serve`: the control plane (API, vault, orchestrator, control-side actions) until
 * SIGTERM/SIGINT, then a bounded close. REDIS_URL is its one store; it never talks to a host.
 */
import { join } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { createLogger } from '../common/index.ts';
import { controlRoutes, startControlPlane } from '../control/index.ts';
import { DEFAULT_PREFIX } from '../executor/index.ts';
import { checkRedisUrl } from '../redis/index.ts';
import { untilStopSignal } from './signals.ts';
import { vaultDirFrom } from './trust-setup.ts';
import { duration } from './world-options.ts';

interface ServeFlags {
  host: string;
  port: number;
  prefix: string;
  leaseMs?: number;
  scriptCatalog?: string;
  shutdownTimeoutMs: number;
  vaultDir?: string;
  agentCertLifetime?: number;
  tlsName: string[];
  json?: boolean;
  siteLeaseMs?: number;
  siteMarginMs?: number;
  heartbeatMs?: number;
  arbiter?: string;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0 || n > 65_535) {
    throw new InvalidArgumentError(`expected a port number 0-65535 (0 picks a free one), got "${value}"`);
  }
  return n;
}

function positive(value: string): number {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return n;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description(
      'Run the control plane: HTTP API, vault, orchestrator and control-side actions; REDIS_URL is required. It never talks to a host: run it outside the sites it protects',
    )
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: a free one)', port, 7080)
    .option('--prefix <prefix>', 'Redis key prefix of the vault', DEFAULT_PREFIX)
    .option('--lease-ms <ms>', 'lease of an execution (default: DR_LEASE_MS or 10000)', positive)
    .option('--script-catalog <dir>', 'folder of control-side recovery scripts (default: DR_SCRIPT_CATALOG)')
    .option('--shutdown-timeout-ms <ms>', 'on SIGTERM, how long running work may finish', positive, 10_000)
    .option(
      '--vault-dir <dir>',
      "the vault's folder (key file of `drctl vault init`): HTTPS, agents over mTLS; there is no mode without one (default: DR_VAULT_DIR, else $XDG_STATE_HOME/drorch/vault)",
    )
    .option(
      '--agent-cert-lifetime <duration>',
      "an agent certificate's lifetime (e.g. 12h; 2s in tests)",
      duration,
    )
    .option(
      '--tls-name <name>',
      'another name the server certificate carries, as clients reach it (e.g. a service name; repeatable; --host, localhost, 127.0.0.1 and ::1 always)',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option(
      '--site-lease-ms <ms>',
      "a site's lease, renewed by its agent's heartbeats (default 30000)",
      positive,
    )
    .option(
      '--site-margin-ms <ms>',
      "how long past a site's lease expiry recovery waits (relay delay, fence time, clock drift; default 10000)",
      positive,
    )
    .option('--heartbeat-ms <ms>', 'how often agents are asked to send a heartbeat (default 1000)', positive)
    .option(
      '--arbiter <url>',
      'the third-site arbiter (drctl arbiter) the site monitor asks when no peer site can witness',
    )
    .option('--json', 'print the ready line as JSON')
    .action(async (flags: ServeFlags) => {
      // No unauthenticated mode: the API is HTTPS and the agents' routes mTLS, always. A missing or
      // uninitialised vault is refused (exit 2) naming `drctl vault init`, before anything starts.
      const vaultDir = vaultDirFrom(flags.vaultDir);
      const redisUrl = await checkRedisUrl(process.env.REDIS_URL);
      const control = await startControlPlane({
        redisUrl,
        prefix: flags.prefix,
        host: flags.host,
        port: flags.port,
        routes: controlRoutes,
        logger: createLogger('control'),
        ...(flags.leaseMs === undefined ? {} : { leaseMs: flags.leaseMs }),
        ...(flags.heartbeatMs === undefined ? {} : { agents: { heartbeatMs: flags.heartbeatMs } }),
        siteMonitor: {
          ...(flags.siteLeaseMs === undefined ? {} : { leaseMs: flags.siteLeaseMs }),
          ...(flags.siteMarginMs === undefined ? {} : { marginMs: flags.siteMarginMs }),
          ...(flags.siteMarginMs === undefined ? {} : { witnessEveryMs: Math.min(5000, flags.siteMarginMs) }),
          ...(flags.arbiter === undefined ? {} : { arbiterUrl: flags.arbiter }),
        },
        ...(flags.scriptCatalog === undefined ? {} : { scriptCatalog: flags.scriptCatalog }),
        vault: {
          dir: vaultDir,
          ...(flags.tlsName.length === 0
            ? {}
            : {
                names: [...new Set([flags.host, 'localhost', '127.0.0.1', '::1', ...flags.tlsName])],
              }),
          ...(flags.agentCertLifetime === undefined ? {} : { clientLifetimeMs: flags.agentCertLifetime }),
        },
      });
      const line = {
        api: control.url,
        pid: process.pid,
        prefix: flags.prefix,
        orchestrator: control.orchestrator.id,
        ca: join(vaultDir, 'ca.pem'),
      };
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(line)}\n`
          : `control plane listening on ${control.url} (pid ${process.pid}, prefix ${flags.prefix}); export DR_SERVER=${control.url}\n`,
      );
      await untilStopSignal();
      await control.close(flags.shutdownTimeoutMs);
      setTimeout(() => process.exit(0), 1000).unref();
    });
}
