import { writeFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { InputError } from '../common/index.ts';
import { checkPlanFileCatalog } from '../executor/handlers/catalog.ts';
import {
  compilePlan,
  type Direction,
  type FailoverType,
  formatIssue,
  generatePlan,
  loadPlanFile,
  type PlanIssue,
  type PlanResult,
  parseDuration,
  renderGraph,
  tryParseDuration,
} from '../plan/index.ts';
import { planShowJson, planShowText } from './plan-show.ts';

/**
 * `drctl validate`, `drctl plan show`, `drctl plan generate`. Invalid plans exit 2 after every
 * issue is printed compiler-style on stderr (`file:line:col: error: message [path] (hint)`);
 * `--json` keeps stdout clean JSON for scripts.
 */
export function registerPlanCommands(program: Command): void {
  program
    .command('validate')
    .description('check recovery plan files; exit 0 when all are valid, 2 when not')
    .argument('<plan...>', 'plan YAML files')
    .option('--json', 'print a JSON report on stdout')
    .option('--lease <duration>', 'site lease automatic failover must wait out', '30s')
    .option(
      '--script-catalog <dir>',
      'also check, offline, that every script the plan names is in this catalog folder (default: DR_SCRIPT_CATALOG); a run is checked against the catalogs the agents and the control plane serve',
    )
    .action(async (files: string[], options: { json?: boolean; lease: string; scriptCatalog?: string }) => {
      const siteLeaseMs = durationFlag('--lease', options.lease);
      const catalog = options.scriptCatalog ?? process.env.DR_SCRIPT_CATALOG;
      const results = await Promise.all(
        files.map(async (file) => {
          const result = await loadPlanFile(file, { siteLeaseMs });
          return { file, result: catalog ? await checkPlanFileCatalog(file, result, catalog) : result };
        }),
      );
      const ok = results.every(({ result }) => result.ok);
      if (options.json) {
        process.stdout.write(
          `${JSON.stringify(
            {
              ok,
              ...(catalog ? { scriptCatalog: catalog } : {}),
              files: results.map(({ file, result }) => fileReport(file, result)),
            },
            null,
            2,
          )}\n`,
        );
      } else {
        for (const { file, result } of results) {
          printIssues(result.ok ? result.warnings : result.issues);
          if (result.ok) {
            const plan = result.plan;
            process.stdout.write(
              `${file}: ok, plan ${plan.metadata.name}: ${plan.vms.length} VMs, ${plan.groups.length} groups, ${plan.actions.length} actions (sha256 ${result.hash.slice(0, 12)})${catalog ? `; scripts checked against the catalog ${catalog}` : '; scripts not checked (no --script-catalog)'}\n`,
            );
          } else {
            const errors = result.issues.filter((issue) => issue.severity === 'error').length;
            process.stderr.write(`${file}: invalid, ${errors} error(s)\n`);
          }
        }
      }
      if (!ok) process.exitCode = 2;
    });

  const plan = program.command('plan').description('inspect and generate recovery plans');
  plan
    .command('show')
    .description('waves, critical path and RTO estimate of a plan, beside the sequential-groups estimate')
    .argument('<plan>', 'plan YAML file')
    .addOption(
      new Option('--type <type>', 'failover type')
        .choices(['test', 'planned', 'unplanned'])
        .default('unplanned'),
    )
    .addOption(
      new Option('--direction <direction>', 'direction').choices(['forward', 'failback']).default('forward'),
    )
    .addOption(
      new Option('--format <format>', 'output format').choices(['text', 'mermaid', 'dot']).default('text'),
    )
    .option('--json', 'print the compiled plan as JSON on stdout')
    .option('--all', 'list every step of every wave (text format)')
    .option('--lease <duration>', 'site lease automatic failover must wait out', '30s')
    .action(
      async (
        file: string,
        options: {
          type: FailoverType;
          direction: Direction;
          format: 'text' | 'mermaid' | 'dot';
          json?: boolean;
          all?: boolean;
          lease: string;
        },
      ) => {
        const result = await loadPlanFile(file, { siteLeaseMs: durationFlag('--lease', options.lease) });
        if (!result.ok) {
          if (options.json) process.stdout.write(`${JSON.stringify(fileReport(file, result), null, 2)}\n`);
          printIssues(result.issues);
          process.exitCode = 2;
          return;
        }
        if (!options.json) printIssues(result.warnings);
        const compiled = compilePlan(result.plan, { type: options.type, direction: options.direction });
        if (options.json) {
          process.stdout.write(
            `${JSON.stringify(planShowJson(file, result.plan, result.hash, compiled, result.warnings), null, 2)}\n`,
          );
        } else if (options.format === 'text') {
          process.stdout.write(
            planShowText(result.plan, result.hash, compiled, { all: options.all === true }),
          );
        } else {
          process.stdout.write(renderGraph(compiled, options.format));
        }
      },
    );

  plan
    .command('generate')
    .description('write a synthetic, realistic plan for scale tests (same seed, same plan)')
    .requiredOption('--vms <n>', 'number of VMs')
    .option('--depth <d>', 'dependency levels', '5')
    .option('--seed <s>', 'random seed', '1')
    .option('--name <name>', 'metadata.name')
    .addOption(
      new Option('--style <style>', 'flow: one line per VM; block: one key per line')
        .choices(['flow', 'block'])
        .default('flow'),
    )
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .action(
      async (options: {
        vms: string;
        depth: string;
        seed: string;
        name?: string;
        style: 'flow' | 'block';
        output?: string;
      }) => {
        const text = generatePlan({
          vms: intFlag('--vms', options.vms, 1, 1_000_000),
          depth: intFlag('--depth', options.depth, 1, 1_000),
          seed: intFlag('--seed', options.seed, 0, 2 ** 32 - 1),
          ...(options.name === undefined ? {} : { name: options.name }),
          style: options.style,
        });
        if (options.output === undefined) process.stdout.write(text);
        else await writeFile(options.output, text);
      },
    );
}

function printIssues(issues: readonly PlanIssue[]): void {
  for (const issue of issues) process.stderr.write(`${formatIssue(issue)}\n`);
}

function fileReport(file: string, result: PlanResult): Record<string, unknown> {
  return result.ok
    ? {
        file,
        ok: true,
        name: result.plan.metadata.name,
        hash: result.hash,
        vms: result.plan.vms.length,
        warnings: result.warnings,
      }
    : { file, ok: false, issues: result.issues };
}

function intFlag(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new InputError('BAD_FLAG', `${flag} must be a whole number from ${min} to ${max}, not "${value}"`);
  }
  return n;
}

function durationFlag(flag: string, value: string): number {
  if (tryParseDuration(value) === undefined) {
    throw new InputError('BAD_FLAG', `${flag} must be a duration such as 30s or 1m, not "${value}"`);
  }
  return parseDuration(value);
}
