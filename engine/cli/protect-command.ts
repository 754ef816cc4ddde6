/**
 * `drctl protect <plan> --automatic-start-action Nothing`: Set-VM -AutomaticStartAction on each
 * primary of the plan (wherever it runs as the primary now). With Nothing, a site that is lost and
 * returns before its agent starts none of them beside the VMs recovered elsewhere (the split-brain
 * pre-flight warns of, AUTOMATIC_START_ACTION). The engine's fence bars the automatic start of the
 * old primaries it reaches; this covers those it cannot.
 *
 * It runs as an execution (engine/executor store/protect.ts): one step per VM on the queue of the
 * site where the VM runs as the primary, carried out by that site's workers; this command only
 * reads where the primaries run, submits, and follows. Exit 0 when every VM has the action, 1
 * when a VM could not be set (named, with the host's answer), 2 for bad input or a refusal (the
 * plan or a VM owned by another execution: named).
 */
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { type Command, Option } from 'commander';
import {
  createApiRequester,
  type ExecutionClient,
  type ExecutionView,
  serverUrlFrom,
} from '../client/index.ts';
import { InputError } from '../common/index.ts';
import {
  AUTOMATIC_START_ACTIONS,
  type AutomaticStartActionName,
  createQueueConnection,
  decodeStepState,
  executionKeys,
  type ProtectRow,
  type ProtectSubmitted,
  protectRows,
  submitProtect,
} from '../executor/index.ts';
import type { RecoveryPlan } from '../plan/types.ts';
import { connectHostDriver, SIM_OPTION_HELP, simUrlFrom } from './host-driver.ts';
import {
  type CommonFlags,
  loadPlanOrExit,
  openClient,
  PREFIX_OPTION,
  printDetached,
  printJson,
  redisUrlFromEnv,
} from './run/common.ts';
import { connectClient, SERVER_OPTION, usesServer } from './run/connect.ts';
import { whileFollowing } from './run/interrupt.ts';

interface ProtectFlags extends CommonFlags {
  automaticStartAction: AutomaticStartActionName;
  vms?: string;
  sim?: string;
  server?: string;
  reason?: string;
  detach?: boolean;
}

export type { ProtectRow };

const SETTLED = ['completed', 'failed', 'cancelled'];

/** After this long with steps still waiting, say which sites' workers they wait for. */
const WORKER_HINT_MS = 5000;

function whoAmI(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

export function registerProtectCommand(program: Command): void {
  program
    .command('protect <plan>')
    .description(
      "Set the automatic start action of the plan's primaries (Set-VM -AutomaticStartAction), so a lost site that returns starts none of them; runs as an execution, one step per VM at the site where it runs",
    )
    .addOption(
      new Option('--automatic-start-action <action>', 'what a returning host does with the primary')
        .choices(AUTOMATIC_START_ACTIONS)
        .makeOptionMandatory(),
    )
    .option('--vms <names>', 'only these VMs of the plan, comma-separated')
    .option('--reason <text>', 'why (kept with the execution)')
    .option('--detach', 'return at once with the execution id')
    .option('--sim <url>', SIM_OPTION_HELP)
    .option(...SERVER_OPTION)
    .option(...PREFIX_OPTION)
    .option('--json', 'machine-readable output')
    .action(async (file: string, flags: ProtectFlags) => {
      const { plan, hash } = await loadPlanOrExit(file);
      const vms = selectVms(plan, flags.vms, file);
      if (usesServer(flags)) {
        await protectThroughServer(file, plan, vms, flags);
        return;
      }
      const url = simUrlFrom(flags.sim, 'protect reads where each primary runs');
      const redisUrl = await redisUrlFromEnv();
      const hosts = connectHostDriver(url);
      const redis = createQueueConnection(redisUrl, { name: 'drctl-protect' });
      const client = await openClient(flags, redisUrl);
      try {
        const submitted = await submitProtect(redis, flags.prefix, {
          plan,
          hash,
          action: flags.automaticStartAction,
          ...(vms === undefined ? {} : { vms }),
          by: whoAmI(),
          reason:
            flags.reason ??
            `automatic start action ${flags.automaticStartAction} on plan ${plan.metadata.name}`,
          hosts,
        });
        await report(
          submitted,
          flags,
          (out) =>
            followToEnd(
              client,
              submitted,
              out,
              async () => {
                const steps = await redis.hgetall(executionKeys(flags.prefix, submitted.id).steps);
                return new Set(
                  submitted.placement
                    .filter((p) => decodeStepState(steps[`${p.vm}/protect`]).status === 'queued')
                    .map((p) => p.site),
                );
              },
              'worker',
            ),
          () => protectRows(redis, flags.prefix, submitted.id),
        );
      } finally {
        await client.close();
        hosts.close();
        await redis.quit().catch(() => redis.disconnect());
      }
    });
}

function selectVms(plan: RecoveryPlan, names: string | undefined, file: string): string[] | undefined {
  if (names === undefined) return undefined;
  const all = plan.vms.map((v) => v.name);
  const wanted = names
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  const unknown = wanted.filter((n) => !all.includes(n));
  if (unknown.length > 0 || wanted.length === 0)
    throw new InputError(
      'UNKNOWN_VM',
      `--vms: ${unknown.length > 0 ? `${unknown.join(', ')} not in plan ${plan.metadata.name} (${file})` : 'name at least one VM'}`,
    );
  return wanted;
}

/** Poll the execution to its end; when steps keep waiting, name the sites whose workers they wait for. */
async function followToEnd(
  client: ExecutionClient,
  submitted: ProtectSubmitted,
  out: NodeJS.WriteStream,
  waitingSites: () => Promise<Set<string>>,
  runner: 'worker' | 'agent',
): Promise<ExecutionView> {
  const since = Date.now();
  let hinted = false;
  for (;;) {
    const view = await client.get(submitted.id);
    if (SETTLED.includes(view.status)) return view;
    if (!hinted && Date.now() - since > WORKER_HINT_MS) {
      hinted = true;
      if (view.status === 'submitted') {
        out.write(
          runner === 'agent'
            ? `no orchestrator has picked ${submitted.id} up yet: is the control plane (\`drctl serve\`) running?\n`
            : `no orchestrator has picked ${submitted.id} up yet: is \`drctl orchestrator\` running against this Redis and prefix?\n`,
        );
      } else {
        for (const site of await waitingSites())
          out.write(
            runner === 'agent'
              ? `steps of ${submitted.id} may wait for the agent of ${site}: is \`drctl agent --site ${site}\` running? (GET /api/v1/sites shows each agent's heartbeat age)\n`
              : `steps of ${submitted.id} wait for a worker of ${site}: is \`drctl worker --site ${site}\` running against this Redis and prefix?\n`,
          );
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function printRows(rows: readonly ProtectRow[], submitted: ProtectSubmitted, view: ExecutionView): void {
  for (const row of rows) process.stdout.write(`${rowLine(row)}\n`);
  const failed = rows.filter((r) => r.error !== undefined).length;
  const changed = rows.filter((r) => r.changed).length;
  process.stdout.write(
    `${rows.length - failed} of ${rows.length} primaries have automatic start action ${submitted.action} (${changed} changed)${failed > 0 ? `; ${failed} FAILED` : ''}; ${submitted.id} ${view.status}\n`,
  );
  process.stdout.write(`each VM's before and after: drctl events ${submitted.id}\n`);
}

function rowLine(row: ProtectRow): string {
  const where = `${row.vm.padEnd(24)} ${row.site ? `@${row.site}` : ''}`.padEnd(36);
  if (row.error) return `  ! ${where} FAILED: ${row.error.code}: ${row.error.message}`;
  return row.changed ? `  ${where} ${row.before} → ${row.after}` : `  ${where} already ${row.after}`;
}

/**
 * The same protect through the control plane (`--server` / DR_SERVER): it reads where the
 * primaries run from the vault and the agents set the action; this command needs neither
 * REDIS_URL nor --sim.
 */
async function protectThroughServer(
  file: string,
  plan: RecoveryPlan,
  vms: string[] | undefined,
  flags: ProtectFlags,
): Promise<void> {
  const connection = await connectClient(flags);
  const request = createApiRequester(serverUrlFrom(flags.server));
  try {
    const submitted = await request<ProtectSubmitted>('POST', '/api/v1/protections', {
      body: {
        file,
        text: await readFile(file, 'utf8'),
        action: flags.automaticStartAction,
        ...(vms === undefined ? {} : { vms }),
        reason:
          flags.reason ??
          `automatic start action ${flags.automaticStartAction} on plan ${plan.metadata.name}`,
      },
    });
    await report(
      submitted,
      flags,
      (out) =>
        followToEnd(
          connection.client,
          submitted,
          out,
          async () => new Set(submitted.placement.map((p) => p.site)),
          'agent',
        ),
      async () =>
        (
          await request<{ vms: ProtectRow[] }>(
            'GET',
            `/api/v1/executions/${encodeURIComponent(submitted.id)}/protect`,
          )
        ).vms,
    );
  } finally {
    await connection.close();
  }
}

/**
 * What both paths print once the protect is submitted: the id alone with --detach, else its
 * progress (followed by `follow`), then a row per VM (`rows`) or the one JSON answer, exit 1 when
 * a VM failed.
 */
async function report(
  submitted: ProtectSubmitted,
  flags: ProtectFlags,
  follow: (out: NodeJS.WriteStream) => Promise<ExecutionView>,
  rows: () => Promise<ProtectRow[]>,
): Promise<void> {
  if (flags.detach) {
    printDetached(submitted.id, flags, {
      execution: submitted.id,
      action: submitted.action,
      placement: submitted.placement,
      ...(submitted.leftOut.length > 0 ? { leftOut: submitted.leftOut } : {}),
    });
    return;
  }
  // With --json, stdout carries the one JSON answer; hints go to stderr.
  const out = flags.json ? process.stderr : process.stdout;
  if (!flags.json)
    out.write(
      `${submitted.id}: automatic start action ${submitted.action} on ${submitted.placement.length} primaries\n`,
    );
  const view = await whileFollowing({ id: submitted.id, type: 'protect', prefix: flags.prefix }, () =>
    follow(out),
  );
  const all = await rows();
  const ok = all.every((r) => r.error === undefined) && view.status === 'completed';
  if (flags.json)
    printJson({ ok, execution: submitted.id, status: view.status, action: submitted.action, vms: all });
  else printRows(all, submitted, view);
  if (!ok) process.exitCode = 1;
}
