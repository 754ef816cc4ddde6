import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  createSimClient,
  type FaultAction,
  formatSummary,
  formatWorldIssue,
  loadWorldFile,
  startSimServer,
  summarizeWorld,
  worldJsonSchema,
} from '../../simulators/index.ts';
import { createLogger, InputError } from '../common/index.ts';
import { untilStopSignal } from './signals.ts';
import {
  addWorldOptions,
  buildWorld,
  duration,
  nonNegativeInt,
  positive,
  type WorldFlags,
} from './world-options.ts';

/**
 * `drctl sim ...`: serve a simulated Hyper-V world over HTTP, read its ground truth, inject faults,
 * move its clock. Exit codes: 0 ok, 1 failed, 2 bad input (a world or plan file, a flag).
 */

/**
 * The simulator to talk to: --url, else DR_SIM_URL (what the run commands read too). Missing or
 * not a URL is bad input (exit 2).
 */
function simUrl(flag: string | undefined, command: string): string {
  const url = flag ?? process.env.DR_SIM_URL;
  if (url === undefined || url === '')
    throw new InputError(
      'SIM_NO_URL',
      `drctl sim ${command} needs the simulator: give --url <url> or set DR_SIM_URL (the URL \`drctl sim serve\` prints)`,
    );
  if (!URL.canParse(url))
    throw new InputError(
      'SIM_BAD_URL',
      `"${url}" (${flag === undefined ? 'DR_SIM_URL' : '--url'}) is not a URL: give one like http://127.0.0.1:7070`,
    );
  return url;
}

const URL_OPTION = ['--url <url>', 'simulator URL (default: DR_SIM_URL)'] as const;

const BANDWIDTH = /^(\d+(?:\.\d+)?)\s*(bps|kbps|Kbps|mbps|Mbps|gbps|Gbps|B\/s|KB\/s|MB\/s|GB\/s)$/;
const BANDWIDTH_BYTES: Record<string, number> = {
  bps: 1 / 8,
  kbps: 125,
  Kbps: 125,
  mbps: 125_000,
  Mbps: 125_000,
  gbps: 125_000_000,
  Gbps: 125_000_000,
  'B/s': 1,
  'KB/s': 1000,
  'MB/s': 1_000_000,
  'GB/s': 1_000_000_000,
};

/** `10Mbps`, `1Gbps`, `500KB/s` → bytes per second. */
function bandwidth(value: string): number {
  const m = BANDWIDTH.exec(value.trim());
  if (!m)
    throw new InvalidArgumentError(`expected a bandwidth like 10Mbps, 1Gbps or 500KB/s, got "${value}"`);
  return Number(m[1]) * (BANDWIDTH_BYTES[m[2]!] ?? 1);
}

interface ServeFlags extends WorldFlags {
  port: number;
  host: string;
  json?: boolean;
}

export function registerSimCommands(program: Command): void {
  const sim = program
    .command('sim')
    .description('The simulated Hyper-V world: serve it, read its ground truth, inject faults');

  addWorldOptions(
    sim.command('serve').description("Serve a world over HTTP, like a site's Hyper-V management endpoint"),
  )
    .option('--port <n>', 'port (0: a free one)', nonNegativeInt, 0)
    .option('--host <addr>', 'listen address', '127.0.0.1')
    .option('--json', 'print {"url": ...} as one JSON line')
    .action(async (flags: ServeFlags) => {
      const world = await buildWorld(flags);
      world.start();
      const server = await startSimServer(world.api, { port: flags.port, host: flags.host });
      const info = {
        url: server.url,
        clock: world.clock.mode,
        speed: world.clock.speed,
        vms: world.vmNames().length,
        now: world.nowIso(),
      };
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(info)}\n`
          : `simulator listening on ${server.url} (${info.vms} VMs, clock ${info.clock})\n`,
      );
      const log = createLogger('sim');
      log.info(info, 'simulated Hyper-V world serving');
      await untilStopSignal();
      log.info({ url: server.url, now: world.nowIso() }, 'simulator stopping');
      world.close();
      await server.close();
    });

  sim
    .command('validate <world>')
    .description('Check a world file and report every problem as file:line:column')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, flags: { json?: boolean }) => {
      const loaded = await loadWorldFile(file);
      if (flags.json)
        process.stdout.write(
          `${JSON.stringify(loaded.ok ? { ok: true, vms: loaded.spec.vms.length } : loaded)}\n`,
        );
      else if (loaded.ok)
        process.stdout.write(
          `${file}: ok (${loaded.spec.sites.length} sites, ${loaded.spec.vms.length} VMs)\n`,
        );
      else process.stderr.write(`${loaded.issues.map(formatWorldIssue).join('\n')}\n`);
      if (!loaded.ok) process.exitCode = 2;
    });

  sim
    .command('schema')
    .description('Print the JSON Schema of world files (for editors)')
    .action(() => {
      process.stdout.write(`${JSON.stringify(worldJsonSchema(), null, 2)}\n`);
    });

  sim
    .command('truth')
    .description(
      'Print the ground truth as JSON: primaries over time, failovers and lost writes, split-brain, mutating calls',
    )
    .option(...URL_OPTION)
    .option('--vm <name>', 'only this VM')
    .action(async (flags: { url?: string; vm?: string }) => {
      const client = createSimClient(simUrl(flags.url, 'truth'));
      try {
        const truth = await client.truth();
        const out =
          flags.vm === undefined
            ? truth
            : {
                now: truth.now,
                vm: truth.vms[flags.vm] ?? null,
                failovers: truth.failovers.filter((f) => f.vm === flags.vm),
                splitBrain: truth.splitBrain.filter((s) => s.vm === flags.vm),
                mutations: truth.mutations[flags.vm] ?? {},
                refused: truth.refused[flags.vm] ?? {},
                replication: truth.replication.vms[flags.vm] ?? [],
                guardFirings: truth.guardFirings.filter((g) => g.armedVms.includes(String(flags.vm))),
              };
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      } finally {
        client.close();
      }
    });

  sim
    .command('status')
    .description('Summarize every site: VMs by power state and replication health, the worst replication lag')
    .option(...URL_OPTION)
    .option('--json', 'print the summary as JSON')
    .action(async (flags: { url?: string; json?: boolean }) => {
      const client = createSimClient(simUrl(flags.url, 'status'));
      try {
        const summary = await summarizeWorld(client);
        process.stdout.write(flags.json ? `${JSON.stringify(summary)}\n` : formatSummary(summary));
      } finally {
        client.close();
      }
    });

  sim
    .command('advance')
    .description('Move simulated time forward (any clock mode)')
    .option(...URL_OPTION)
    .requiredOption('--by <duration>', 'how far, e.g. 30s, 2h', duration)
    .action(async (flags: { url?: string; by: number }) => {
      const client = createSimClient(simUrl(flags.url, 'advance'));
      try {
        process.stdout.write(`${await client.advance(flags.by)}\n`);
      } finally {
        client.close();
      }
    });

  const fault = sim
    .command('fault')
    .description('Inject a fault: host-crash, host-up, site-power, link, boot, throttle')
    .option('--url <url>', 'simulator URL, before or after the fault name (default: DR_SIM_URL)');
  const send = async (cmd: Command, action: FaultAction): Promise<void> => {
    const { url } = cmd.optsWithGlobals<{ url?: string }>();
    const client = createSimClient(simUrl(url, `fault ${action.kind}`));
    try {
      await client.fault(action);
      process.stdout.write(`${JSON.stringify({ ok: true, fault: action })}\n`);
    } finally {
      client.close();
    }
  };
  fault
    .command('host-crash')
    .description('Crash a host: its VMs go off at once')
    .option(...URL_OPTION)
    .requiredOption('--site <site>', 'the site of the host (required)')
    .requiredOption('--host <host>', 'the host to crash (required)')
    .action(async (o: { site: string; host: string }, cmd: Command) =>
      send(cmd, { kind: 'host-crash', ...o }),
    );
  fault
    .command('host-up')
    .description("Bring a crashed host back; its VMs' automatic start actions apply")
    .option(...URL_OPTION)
    .requiredOption('--site <site>', 'the site of the host (required)')
    .requiredOption('--host <host>', 'the crashed host to bring back (required)')
    .action(async (o: { site: string; host: string }, cmd: Command) => send(cmd, { kind: 'host-up', ...o }));
  fault
    .command('site-power')
    .description('Power a whole site off or back on')
    .option(...URL_OPTION)
    .requiredOption('--site <site>', 'the site to power off or on (required)')
    .addOption(
      new Option('--state <state>', 'off or on (required)').choices(['off', 'on']).makeOptionMandatory(),
    )
    .action(async (o: { site: string; state: 'off' | 'on' }, cmd: Command) =>
      send(cmd, { kind: 'site-power', ...o }),
    );
  fault
    .command('link')
    .description('Cut or restore the link between two sites')
    .option(...URL_OPTION)
    .requiredOption('--from <site>', 'one end of the link (required)')
    .requiredOption('--to <site>', 'the other end (required)')
    .addOption(
      new Option('--state <state>', 'down (cut) or up (restored) (required)')
        .choices(['down', 'up'])
        .makeOptionMandatory(),
    )
    .action(async (o: { from: string; to: string; state: 'down' | 'up' }, cmd: Command) =>
      send(cmd, { kind: 'link', ...o }),
    );
  fault
    .command('boot')
    .description("Make a VM's boots slow (× factor), fail (no heartbeat ever), or normal again")
    .option(...URL_OPTION)
    .requiredOption('--vm <vm>', 'the VM whose boots change (required)')
    .option('--site <site>', 'only the instance at this site')
    .addOption(
      new Option('--mode <mode>', 'slow, fail or normal (required)')
        .choices(['slow', 'fail', 'normal'])
        .makeOptionMandatory(),
    )
    .option('--factor <n>', 'slow-boot multiplier (default 5)', positive)
    .action(
      async (
        o: { vm: string; site?: string; mode: 'slow' | 'fail' | 'normal'; factor?: number },
        cmd: Command,
      ) => send(cmd, { kind: 'boot', ...o }),
    );
  fault
    .command('throttle')
    .description('Set the bandwidth of the link between two sites (replication falls behind)')
    .option(...URL_OPTION)
    .requiredOption('--from <site>', 'the sending site (required)')
    .requiredOption('--to <site>', 'the receiving site (required)')
    .requiredOption('--bandwidth <rate>', 'e.g. 10Mbps, 1Gbps, 500KB/s (required)', bandwidth)
    .action(async (o: { from: string; to: string; bandwidth: number }, cmd: Command) =>
      send(cmd, { kind: 'throttle', from: o.from, to: o.to, bandwidthBytesPerSec: o.bandwidth }),
    );
}
