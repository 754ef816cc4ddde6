import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { checkWorldSpec } from './check-spec.ts';
import type { FaultSpec, VmSpec, WorldSpec } from './spec.ts';
import { parseDuration } from './units.ts';
import { locator } from './yaml-locate.ts';

/**
 * World files: YAML describing sites, hosts, links, VMs, replication, workloads and faults,
 * validated with zod and cross-checked, every problem located as file:line:column and path.
 */

export interface WorldFileIssue {
  file: string;
  line: number;
  column: number;
  path: string;
  message: string;
}

export type WorldFileResult =
  | { ok: true; spec: WorldSpec; name: string }
  | { ok: false; issues: WorldFileIssue[] };

const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'expected a name of letters, digits, ".", "_" or "-"');
const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `invalid duration ${JSON.stringify(value)}; write 250ms, 30s, 5m, 2h or 1d`,
    });
    return z.NEVER;
  }
  return ms;
});
const frequency = duration.refine((ms) => ms === 30_000 || ms === 300_000 || ms === 900_000, {
  message: 'Hyper-V Replica replicates every 30s, 5m or 15m',
});
const where = { site: name, host: name };

const vmSchema = z.strictObject({
  name: name,
  site: name,
  host: name,
  memoryMb: z.number().int().positive().optional(),
  diskGb: z.number().positive().optional(),
  state: z.enum(['Running', 'Off']).optional(),
  network: z.strictObject({ network: name, ip: z.string().optional() }).optional(),
  boot: z.union([duration, z.strictObject({ min: duration, max: duration })]).optional(),
  automaticStartAction: z.enum(['Nothing', 'StartIfRunning', 'Start']).optional(),
  workload: z
    .strictObject({
      writesPerSec: z
        .union([
          z.number().nonnegative(),
          z.strictObject({ min: z.number().nonnegative(), max: z.number().nonnegative() }),
        ])
        .optional(),
      bytesPerWrite: z.number().int().positive().optional(),
    })
    .optional(),
  replication: z
    .strictObject({
      ...where,
      frequency: frequency.optional(),
      recoveryPoints: z.number().int().min(0).max(24).optional(),
      appConsistentEvery: duration
        .refine((ms) => ms % 3_600_000 === 0 && ms >= 3_600_000 && ms <= 12 * 3_600_000, {
          message: 'VSS snapshots are taken every 1h to 12h, in whole hours',
        })
        .optional(),
      phase: duration.optional(),
      extended: z
        .strictObject({
          ...where,
          frequency: frequency
            .refine((ms) => ms !== 30_000, { message: 'extended replication runs every 5m or 15m' })
            .optional(),
          recoveryPoints: z.number().int().min(0).max(24).optional(),
          phase: duration.optional(),
          appConsistentEvery: z
            .never({ error: 'extended replication keeps no application-consistent recovery points' })
            .optional(),
        })
        .optional(),
    })
    .optional(),
});

const faultSchema = z.discriminatedUnion('kind', [
  z.strictObject({ at: duration, kind: z.literal('host-crash'), ...where }),
  z.strictObject({ at: duration, kind: z.literal('host-up'), ...where }),
  z.strictObject({ at: duration, kind: z.literal('site-power'), site: name, state: z.enum(['off', 'on']) }),
  z.strictObject({
    at: duration,
    kind: z.literal('link'),
    from: name,
    to: name,
    state: z.enum(['down', 'up']),
  }),
  z.strictObject({
    at: duration,
    kind: z.literal('boot'),
    vm: name,
    site: name.optional(),
    mode: z.enum(['slow', 'fail', 'normal']),
    factor: z.number().positive().optional(),
  }),
  z.strictObject({
    at: duration,
    kind: z.literal('throttle'),
    from: name,
    to: name,
    bandwidthMbps: z.number().positive(),
  }),
]);

const fileSchema = z.strictObject({
  apiVersion: z.literal('dr/v1'),
  kind: z.literal('SimWorld'),
  metadata: z.strictObject({ name: name, description: z.string().optional() }),
  spec: z.strictObject({
    seed: z.number().int().nonnegative().optional(),
    start: z.iso.datetime({ offset: true }).optional(),
    clock: z
      .strictObject({ mode: z.enum(['manual', 'real', 'scaled']), speed: z.number().positive().optional() })
      .optional(),
    replicationErrorAfter: duration.optional(),
    sites: z
      .array(
        z.strictObject({
          name: name,
          networks: z.array(z.strictObject({ name: name, isolated: z.boolean().optional() })).optional(),
          hosts: z
            .array(
              z.strictObject({
                name: name,
                vmSlots: z.number().int().positive().optional(),
                memoryMb: z.number().int().positive().optional(),
                maxConcurrentBoots: z.number().int().positive().optional(),
              }),
            )
            .min(1),
        }),
      )
      .min(1),
    links: z
      .array(
        z.strictObject({
          between: z.tuple([name, name]),
          latency: duration.optional(),
          bandwidthMbps: z.number().positive().optional(),
          up: z.boolean().optional(),
        }),
      )
      .optional(),
    vms: z.array(vmSchema),
    faults: z.array(faultSchema).optional(),
    randomFaults: z
      .strictObject({
        seed: z.number().int().nonnegative().optional(),
        horizon: duration.optional(),
        hostCrashesPerDay: z.number().nonnegative().optional(),
        hostDowntime: duration.optional(),
        linkCutsPerDay: z.number().nonnegative().optional(),
        linkOutage: duration.optional(),
      })
      .optional(),
  }),
});

type FileWorld = z.output<typeof fileSchema>;

/** JSON Schema of world files, for editors (`# yaml-language-server: $schema=...`). */
export function worldJsonSchema(): unknown {
  return z.toJSONSchema(fileSchema, { io: 'input', unrepresentable: 'any' });
}
const MBPS = 125_000;

function toVm(vm: z.output<typeof vmSchema>): VmSpec {
  const r = vm.replication;
  return {
    name: vm.name,
    site: vm.site,
    host: vm.host,
    memoryMb: vm.memoryMb,
    diskBytes: vm.diskGb === undefined ? undefined : Math.round(vm.diskGb * 1024 ** 3),
    state: vm.state,
    network: vm.network,
    boot:
      vm.boot === undefined || typeof vm.boot === 'number'
        ? vm.boot
        : { minMs: vm.boot.min, maxMs: vm.boot.max },
    automaticStartAction: vm.automaticStartAction,
    workload: vm.workload,
    replication: r && {
      site: r.site,
      host: r.host,
      frequencySec: r.frequency === undefined ? undefined : ((r.frequency / 1000) as 30 | 300 | 900),
      recoveryPoints: r.recoveryPoints,
      appConsistentEveryHours:
        r.appConsistentEvery === undefined ? undefined : r.appConsistentEvery / 3_600_000,
      phaseMs: r.phase,
      extended: r.extended && {
        site: r.extended.site,
        host: r.extended.host,
        frequencySec:
          r.extended.frequency === undefined ? undefined : ((r.extended.frequency / 1000) as 300 | 900),
        recoveryPoints: r.extended.recoveryPoints,
        phaseMs: r.extended.phase,
      },
    },
  };
}

function toSpec(file: FileWorld): WorldSpec {
  const s = file.spec;
  const faults: FaultSpec[] = (s.faults ?? []).map((f) => {
    const { at, ...rest } = f;
    if (rest.kind === 'throttle') {
      return {
        atMs: at,
        kind: 'throttle',
        from: rest.from,
        to: rest.to,
        bandwidthBytesPerSec: rest.bandwidthMbps * MBPS,
      };
    }
    return { atMs: at, ...rest };
  });
  const rf = s.randomFaults;
  return {
    seed: s.seed,
    start: s.start,
    clock: s.clock,
    replicationErrorAfterMs: s.replicationErrorAfter,
    sites: s.sites,
    links: s.links?.map((l) => ({
      between: l.between,
      latencyMs: l.latency,
      bandwidthBytesPerSec: l.bandwidthMbps === undefined ? undefined : l.bandwidthMbps * MBPS,
      up: l.up,
    })),
    vms: s.vms.map(toVm),
    faults,
    randomFaults: rf && {
      seed: rf.seed,
      horizonMs: rf.horizon,
      hostCrashesPerDay: rf.hostCrashesPerDay,
      hostDowntimeMs: rf.hostDowntime,
      linkCutsPerDay: rf.linkCutsPerDay,
      linkOutageMs: rf.linkOutage,
    },
  };
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path)
    out += typeof segment === 'number' ? `[${segment}]` : `${out === '' ? '' : '.'}${String(segment)}`;
  return out;
}

export function parseWorldText(text: string, file = '<world>'): WorldFileResult {
  const locate = locator(text);
  const issue = (
    path: readonly PropertyKey[],
    message: string,
    on: 'value' | 'key' = 'value',
  ): WorldFileIssue => ({
    file,
    ...locate(path, on),
    path: formatPath(path),
    message,
  });
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      return {
        file,
        line: pos?.line ?? 1,
        column: pos?.col ?? 1,
        path: '',
        message: e.message.split('\n')[0] ?? e.message,
      };
    });
    return { ok: false, issues };
  }
  const data: unknown = doc.toJS();
  const parsed = fileSchema.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues.flatMap((i) =>
      i.code === 'unrecognized_keys'
        ? i.keys.map((key) => issue([...i.path, key], `unknown key "${key}"`, 'key'))
        : [
            i.code === 'invalid_type' && valueAt(data, i.path) === undefined
              ? issue(i.path.slice(0, -1), `missing required key "${String(i.path.at(-1))}"`)
              : issue(i.path, i.message),
          ],
    );
    return { ok: false, issues: sortByPlace(issues) };
  }
  const spec = toSpec(parsed.data);
  const problems = checkWorldSpec(spec).map((p) => issue(['spec', ...p.path.map(renamePath)], p.message));
  if (problems.length > 0) return { ok: false, issues: sortByPlace(problems) };
  return { ok: true, spec, name: parsed.data.metadata.name };
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let node = data;
  for (const segment of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[segment];
  }
  return node;
}

function sortByPlace(issues: WorldFileIssue[]): WorldFileIssue[] {
  return issues.sort((a, b) => a.line - b.line || a.column - b.column);
}

/** Spec field names that differ from the file's. */
function renamePath(segment: string | number): string | number {
  if (segment === 'frequencySec') return 'frequency';
  return segment;
}

export async function loadWorldFile(path: string): Promise<WorldFileResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    return {
      ok: false,
      issues: [
        {
          file: path,
          line: 1,
          column: 1,
          path: '',
          message: `cannot read the world file: ${error instanceof Error ? error.message : String(error)}`,
        },
      ],
    };
  }
  return parseWorldText(text, path);
}

export function formatWorldIssue(i: WorldFileIssue): string {
  return `${i.file}:${i.line}:${i.column}${i.path ? ` ${i.path}` : ''}: ${i.message}`;
}
