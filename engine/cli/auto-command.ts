/**
 * `drctl auto arm|disarm|status|veto|drill <plan>` and `drctl site maintenance <site> --for 2h`:
 * automatic failover on the control plane (`--server`, DR_SERVER; engine/control/auto). An admin
 * arms, disarms, drills and sets maintenance; an operator may veto.
 */
import type { Command } from 'commander';
import { createApiRequester, serverUrlFrom } from '../client/index.ts';
import { DURATION_HINT, formatDuration, InputError, tryParseDuration } from '../common/index.ts';
import type { AutoStatus, DecisionRecord, PlanOutcome } from '../control/auto/index.ts';
import { SERVER_OPTION } from './server-option.ts';

interface Flags {
  server?: string;
  json?: boolean;
}

const out = (flags: Flags, value: unknown, text: string): void => {
  process.stdout.write(flags.json ? `${JSON.stringify(value)}\n` : `${text}\n`);
};

const decisionText = (d: DecisionRecord | undefined): string =>
  d === undefined
    ? '-'
    : `${d.state}${d.execution ? ` ${d.execution}` : ''}${d.reason ? ` (${d.reason})` : ''}${d.vetoedBy ? ` by ${d.vetoedBy}` : ''}`;

export function registerAutoCommands(program: Command): void {
  const auto = program
    .command('auto')
    .description('Automatic failover when a site is lost: arm, disarm, veto, drill, status');
  const withServer = (command: Command) =>
    command.option(...SERVER_OPTION).option('--json', 'machine-readable output');

  withServer(
    auto.command('arm <plan>').description("Arm (or re-arm) the plan's automatic failover (admin)"),
  ).action(async (plan: string, flags: Flags) => {
    const call = createApiRequester(serverUrlFrom(flags.server));
    const arm = await call<{ plan: string; hash: string; site: string }>(
      'POST',
      `/api/v1/auto/plans/${encodeURIComponent(plan)}/arm`,
    );
    out(
      flags,
      arm,
      `armed ${arm.plan} (version ${arm.hash.slice(0, 12)}): fails over by itself once if ${arm.site} is lost`,
    );
  });
  withServer(
    auto.command('disarm <plan>').description("Disarm the plan's automatic failover (admin)"),
  ).action(async (plan: string, flags: Flags) => {
    const call = createApiRequester(serverUrlFrom(flags.server));
    const result = await call<{ disarmed: boolean }>(
      'POST',
      `/api/v1/auto/plans/${encodeURIComponent(plan)}/disarm`,
    );
    out(flags, result, result.disarmed ? `disarmed ${plan}` : `${plan} was not armed`);
  });
  withServer(
    auto
      .command('veto <plan>')
      .description('Stop an automatic failover in its veto window (operator)')
      .requiredOption('--reason <text>', 'why (kept in the audit log)'),
  ).action(async (plan: string, flags: Flags & { reason: string }) => {
    const call = createApiRequester(serverUrlFrom(flags.server));
    const record = await call<DecisionRecord>('POST', `/api/v1/auto/plans/${encodeURIComponent(plan)}/veto`, {
      body: { reason: flags.reason },
    });
    out(flags, record, `vetoed the automatic failover of ${plan} (site ${record.site})`);
  });
  withServer(
    auto
      .command('drill <plan>')
      .description(
        "Drill the automation: the plan's source declared lost on purpose, a test failover (admin)",
      ),
  ).action(async (plan: string, flags: Flags) => {
    const call = createApiRequester(serverUrlFrom(flags.server));
    const outcome = await call<PlanOutcome>('POST', `/api/v1/auto/plans/${encodeURIComponent(plan)}/drill`);
    out(
      flags,
      outcome,
      outcome.execution === undefined
        ? `drill of the automation of ${plan}: ${outcome.decision}${outcome.reason ? ` (${outcome.reason})` : ''}`
        : `drill of the automation of ${plan}: test failover ${outcome.execution} started (clean it up with drctl cleanup ${outcome.execution})`,
    );
    if (outcome.decision !== 'submitted') process.exitCode = 1;
  });
  withServer(
    auto.command('status').description("Every plan's automatic failover, maintenance, Redis durability"),
  ).action(async (flags: Flags) => {
    const call = createApiRequester(serverUrlFrom(flags.server));
    const status = await call<AutoStatus>('GET', '/api/v1/auto');
    const lines = status.plans.map(
      (p) =>
        `${p.plan.padEnd(20)} ${p.source.padEnd(10)} ${(p.enabled ? p.mode : 'disabled').padEnd(12)} ${(p.armed ? 'ARMED' : p.arm?.spent ? 'spent' : 'not armed').padEnd(10)} after ${formatDuration(p.afterMs)}  last: ${decisionText(p.decision)}${p.reprotectOffered ? `  reprotect offered: ${p.reprotectOffered}` : ''}${p.divergences.length > 0 ? `  ${p.divergences.length} divergence(s)` : ''}`,
    );
    const maintenance = status.maintenance.map((m) => `maintenance: ${m.site} until ${m.until} (by ${m.by})`);
    const durability = status.durability.ok
      ? `redis ${status.durability.version}: submissions durable (${status.durability.how})`
      : `redis ${status.durability.version}: NOT durable: ${status.durability.reason}`;
    out(flags, status, [...lines, ...maintenance, durability].join('\n'));
  });

  // `drctl site` is the vault's (registration); maintenance is added to it here.
  const site = program.commands.find((c) => c.name() === 'site') ?? program.command('site');
  withServer(
    site
      .command('maintenance <site>')
      .description("Maintenance mode: no automatic failover of the site's plans for a while (admin)")
      .option('--for <duration>', 'how long, e.g. 2h; it ends by itself')
      .option('--end', 'end it now'),
  ).action(async (name: string, flags: Flags & { for?: string; end?: boolean }) => {
    if ((flags.for === undefined) === (flags.end !== true))
      throw new InputError('MAINTENANCE_FLAGS', 'give either --for <duration> (e.g. 2h) or --end');
    // Bad input is told here, before any call (the control plane checks it too).
    if (flags.for !== undefined && tryParseDuration(flags.for) === undefined)
      throw new InputError('BAD_DURATION', `--for "${flags.for}" is not a duration: ${DURATION_HINT}`);
    const call = createApiRequester(serverUrlFrom(flags.server));
    const url = `/api/v1/sites/${encodeURIComponent(name)}/maintenance`;
    if (flags.end) {
      const ended = await call<{ ended: boolean }>('DELETE', url);
      out(flags, ended, ended.ended ? `maintenance of ${name} ended` : `${name} was not in maintenance`);
      return;
    }
    const set = await call<{ until: string }>('POST', url, { body: { for: flags.for } });
    out(flags, set, `${name} in maintenance until ${set.until}: no automatic failover of its plans`);
  });
}
