/**
 * The simulated world's flags, shared by `drctl sim serve` (which builds the world) and `drctl up`
 * (which checks them, reads the world's sites, and hands the same flags to its `sim serve` child):
 * one parser, so both commands accept and refuse the same things.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  type ClockOptions,
  createWorld,
  FOR_PLAN_WARMUP_MS,
  formatWorldIssue,
  loadWorldFile,
  type World,
  type WorldSpec,
  worldForPlan,
} from '../../simulators/index.ts';
import { formatDuration, InputError, tryParseDuration } from '../common/index.ts';
import { formatIssue, loadPlanFile, type RecoveryPlan } from '../plan/index.ts';

export interface WorldFlags {
  world?: string;
  forPlan?: string;
  clock?: 'manual' | 'real' | 'scaled';
  speed?: number;
  seed?: number;
  warmup?: number;
  start?: string;
}

export function duration(value: string): number {
  const ms = tryParseDuration(value);
  if (ms === undefined)
    throw new InvalidArgumentError(`expected a duration like 30s, 5m or 2h, got "${value}"`);
  return ms;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new InvalidArgumentError(`expected a whole number >= 0, got "${value}"`);
  return n;
}

export function positive(value: string): number {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError(`expected a number > 0, got "${value}"`);
  return n;
}

/** --world, --for-plan and the clock flags that shape the world. */
export function addWorldOptions(command: Command): Command {
  return command
    .option('--world <file>', 'world file (YAML, kind: SimWorld)')
    .option('--for-plan <file>', 'build a matching two-site world from a recovery plan')
    .addOption(
      new Option(
        '--clock <mode>',
        "clock mode (default: the world file's, else real; for-plan: real)",
      ).choices(['manual', 'real', 'scaled']),
    )
    .option('--speed <n>', 'simulated seconds per real second in scaled mode', positive)
    .option('--seed <n>', 'seed (overrides the world file)', nonNegativeInt)
    .option('--warmup <duration>', 'virtual time to run before serving (for-plan default 5h)', duration)
    .option(
      '--start <time>',
      'ISO time of the world\'s start, or "now" (simulated time then tracks the wall clock)',
    );
}

/** The same flags as arguments again, for a `drctl sim serve` child. */
export function worldArgs(flags: WorldFlags): string[] {
  const args: string[] = [];
  if (flags.world !== undefined) args.push('--world', flags.world);
  if (flags.forPlan !== undefined) args.push('--for-plan', flags.forPlan);
  if (flags.clock !== undefined) args.push('--clock', flags.clock);
  if (flags.speed !== undefined) args.push('--speed', String(flags.speed));
  if (flags.seed !== undefined) args.push('--seed', String(flags.seed));
  if (flags.warmup !== undefined) args.push('--warmup', formatDuration(flags.warmup));
  if (flags.start !== undefined) args.push('--start', flags.start);
  return args;
}

/** `--start now`: simulated time lines up with the wall clock once the warm-up is done. */
function startTime(flags: WorldFlags, warmupMs: number): string | undefined {
  if (flags.start === undefined) return undefined;
  if (flags.start === 'now') return new Date(Date.now() - warmupMs).toISOString();
  if (Number.isNaN(Date.parse(flags.start))) {
    throw new InputError('SIM_BAD_FLAGS', `--start expects an ISO-8601 time or "now", got "${flags.start}"`);
  }
  return new Date(flags.start).toISOString();
}

type WorldSource = { kind: 'world'; spec: WorldSpec } | { kind: 'plan'; plan: RecoveryPlan };

/** The world file or the plan the flags name, checked: bad input exits 2 with every problem. */
async function loadWorldSource(flags: WorldFlags): Promise<WorldSource> {
  if ((flags.world === undefined) === (flags.forPlan === undefined)) {
    throw new InputError(
      'SIM_BAD_FLAGS',
      'give exactly one of --world <world.yaml> or --for-plan <plan.yaml>',
    );
  }
  startTime(flags, 0); // a bad --start is refused before anything is read
  if (flags.world !== undefined) {
    const loaded = await loadWorldFile(flags.world);
    if (!loaded.ok) {
      throw new InputError(
        'WORLD_INVALID',
        `invalid world file, ${loaded.issues.length} problem(s):\n${loaded.issues.map(formatWorldIssue).join('\n')}`,
        { issues: loaded.issues },
      );
    }
    return { kind: 'world', spec: loaded.spec };
  }
  const loaded = await loadPlanFile(flags.forPlan!);
  if (!loaded.ok) {
    throw new InputError('PLAN_INVALID', `invalid plan:\n${loaded.issues.map(formatIssue).join('\n')}`, {
      issues: loaded.issues,
    });
  }
  return { kind: 'plan', plan: loaded.plan };
}

/**
 * The names of the world's sites (what `drctl up` runs an agent for) and how many simulated ms
 * its clock runs per real ms (1 unless scaled; undefined for a manual clock, which only moves
 * when told), without building it.
 */
export async function worldSites(flags: WorldFlags): Promise<{ sites: string[]; speed?: number }> {
  const source = await loadWorldSource(flags);
  const clock =
    flags.clock === undefined
      ? source.kind === 'world'
        ? (source.spec.clock ?? { mode: 'real' as const })
        : { mode: 'real' as const }
      : { mode: flags.clock, ...(flags.speed === undefined ? {} : { speed: flags.speed }) };
  const mode = clock.mode ?? 'manual';
  const speed = mode === 'manual' ? undefined : mode === 'scaled' ? (clock.speed ?? 1) : 1;
  return {
    sites:
      source.kind === 'world'
        ? source.spec.sites.map((site) => site.name)
        : [source.plan.source, source.plan.target],
    ...(speed === undefined ? {} : { speed }),
  };
}

export async function buildWorld(flags: WorldFlags): Promise<World> {
  const source = await loadWorldSource(flags);
  const clockOverride: ClockOptions | undefined =
    flags.clock === undefined
      ? undefined
      : { mode: flags.clock, ...(flags.speed === undefined ? {} : { speed: flags.speed }) };
  if (source.kind === 'world') {
    const spec = { ...source.spec };
    // A served world without a clock runs in real time: nobody is there to advance a manual one.
    spec.clock = clockOverride ?? spec.clock ?? { mode: 'real' };
    if (flags.seed !== undefined) spec.seed = flags.seed;
    spec.start = startTime(flags, flags.warmup ?? 0) ?? spec.start;
    const world = createWorld(spec);
    if (flags.warmup) world.advance(flags.warmup);
    return world;
  }
  return worldForPlan(source.plan, {
    clock: clockOverride ?? { mode: 'real' },
    ...(flags.seed === undefined ? {} : { seed: flags.seed }),
    ...(flags.warmup === undefined ? {} : { warmupMs: flags.warmup }),
    start: startTime(flags, flags.warmup ?? FOR_PLAN_WARMUP_MS),
  });
}
