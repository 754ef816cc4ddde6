import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { checkWorldSpec } from './check-spec.ts';
import type { FaultSpec, VmSpec, WorldSpec } from './spec.ts';
import { type FileVm, type FileWorld, fileSchema } from './world-file-schema.ts';
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

const MBPS = 125_000;

function toVm(vm: FileVm): VmSpec {
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
