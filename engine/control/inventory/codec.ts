/**
 * How a VM lives in the vault: one short JSON array per VM (field order fixed, enums as indexes,
 * times as epoch ms), and its recovery points as another. A 10,000-VM site is 20,000 hash fields,
 * not 20,000 keys nor a document rewritten on every change. Pure.
 */
import type { HostView, NetworkView, RecoveryPoint, VmView } from '../../hosts/index.ts';
import {
  Frequencies,
  Healths,
  Heartbeats,
  Modes,
  PointKinds,
  PowerStates,
  ReplicationStates,
  StartActions,
  type WireHost,
  type WireNetwork,
  type WirePoint,
  type WireVm,
} from './wire.ts';

const ms = (iso: string): number => Date.parse(iso);
const iso = (at: number): string => new Date(at).toISOString();
const idx = <T>(values: readonly T[], value: T): number => values.indexOf(value);

type StoredReplication = [number, number, number, string, string, number, number | null, 0 | 1];
type StoredVm = [
  host: string,
  flags: number,
  state: number,
  heartbeat: number,
  startAction: number,
  epoch: number,
  memoryMb: number,
  poweredOnAt: number | null,
  network: [string] | [string, string] | null,
  replication: StoredReplication | null,
  madeFrom: [string, number, number] | null,
  latest: [string, number] | null,
];

const TEST = 1;
const BARRED = 2;

export function encodeVm(vm: WireVm): string {
  const r = vm.replication;
  const stored: StoredVm = [
    vm.host,
    (vm.isTest ? TEST : 0) | (vm.startBarred ? BARRED : 0),
    idx(PowerStates, vm.state),
    idx(Heartbeats, vm.heartbeat),
    idx(StartActions, vm.automaticStartAction),
    vm.epoch,
    vm.memoryMb,
    vm.poweredOnAt === undefined ? null : ms(vm.poweredOnAt),
    vm.network === null
      ? null
      : vm.network.ip === undefined
        ? [vm.network.network]
        : [vm.network.network, vm.network.ip],
    r === null
      ? null
      : [
          idx(Modes, r.mode),
          idx(ReplicationStates, r.state),
          idx(Healths, r.health),
          r.primarySite,
          r.replicaSite,
          r.frequencySec,
          r.lastReplicationTime === undefined ? null : ms(r.lastReplicationTime),
          r.resyncRequired ? 1 : 0,
        ],
    vm.madeFrom === undefined
      ? null
      : [vm.madeFrom.id, idx(PointKinds, vm.madeFrom.kind), ms(vm.madeFrom.time)],
    vm.latest === undefined ? null : [vm.latest.id, ms(vm.latest.time)],
  ];
  return JSON.stringify(stored);
}

/**
 * `[prefix, newestMs, [idRest, kind, newestMs - timeMs]...]`: the ids' common prefix once (a
 * replica's snapshot ids share one), times as offsets from the newest (hourly points: 7 digits,
 * not 13). Hourly points are the bulk of a VM's bytes in the vault.
 */
export function encodePoints(points: readonly WirePoint[]): string {
  const first = points[0];
  if (first === undefined) return '[]';
  let prefix = first.id;
  for (const p of points) while (!p.id.startsWith(prefix)) prefix = prefix.slice(0, -1);
  const newest = Math.max(...points.map((p) => ms(p.time)));
  return JSON.stringify([
    prefix,
    newest,
    ...points.map((p) => [p.id.slice(prefix.length), idx(PointKinds, p.kind), newest - ms(p.time)]),
  ]);
}

function decodePointList(text: string | null): RecoveryPoint[] {
  if (text === null) return [];
  const [prefix, newest, ...rest] = JSON.parse(text) as [string, number, ...[string, number, number][]];
  if (prefix === undefined) return [];
  return rest.map(([id, kind, offset]) => point([`${prefix}${id}`, kind, newest - offset]));
}

/** A stored VM as the host driver's VmView (uptime counted to `nowMs`, the sites' clock). */
export function decodeVm(site: string, name: string, text: string, nowMs: number): VmView {
  const [host, flags, state, heartbeat, action, epoch, memoryMb, onAt, network, r, madeFrom] = JSON.parse(
    text,
  ) as StoredVm;
  const view: VmView = {
    site,
    host,
    name,
    isTest: (flags & TEST) !== 0,
    state: PowerStates[state] ?? 'Off',
    heartbeat: Heartbeats[heartbeat] ?? 'NoContact',
    replication:
      r === null
        ? null
        : {
            mode: Modes[r[0]] ?? 'None',
            state: ReplicationStates[r[1]] ?? 'Error',
            health: Healths[r[2]] ?? 'Critical',
            primarySite: r[3],
            replicaSite: r[4],
            frequencySec: (Frequencies as readonly number[]).includes(r[5]) ? (r[5] as 30 | 300 | 900) : 30,
            ...(r[6] === null ? {} : { lastReplicationTime: iso(r[6]) }),
            resyncRequired: r[7] === 1,
          },
    network:
      network === null
        ? null
        : { network: network[0], ...(network[1] === undefined ? {} : { ip: network[1] }) },
    automaticStartAction: StartActions[action] ?? 'Nothing',
    uptimeSec: onAt === null ? 0 : Math.max(0, nowMs - onAt) / 1000,
    epoch,
    startBarred: (flags & BARRED) !== 0,
    memoryMb,
  };
  if (madeFrom !== null) view.recoveryPoint = point(madeFrom);
  return view;
}

/** What the GET /inventory view needs of a stored VM without building its whole view. */
export function decodeSummary(text: string): {
  stored: StoredVm;
  lastReplicationMs: number | null;
  latestMs: number | null;
} {
  const stored = JSON.parse(text) as StoredVm;
  return { stored, lastReplicationMs: stored[9]?.[6] ?? null, latestMs: stored[11]?.[1] ?? null };
}

/** Get-VMSnapshot's list as the driver returns it: the latest point first, then the others. */
export function decodePoints(vmText: string | null, pointsText: string | null): RecoveryPoint[] {
  const latest = vmText === null ? null : (JSON.parse(vmText) as StoredVm)[11];
  return [
    ...(latest === null ? [] : [{ id: latest[0], kind: 'latest' as const, time: iso(latest[1]) }]),
    ...decodePointList(pointsText),
  ];
}

function point([id, kind, at]: [string, number, number]): RecoveryPoint {
  return { id, kind: PointKinds[kind] ?? 'standard', time: iso(at) };
}

export function decodeHosts(site: string, text: string | null): HostView[] {
  const hosts = text === null ? [] : (JSON.parse(text) as WireHost[]);
  return hosts.map((h) => ({ site, ...h }));
}

export function decodeNetworks(site: string, text: string | null): NetworkView[] {
  const networks = text === null ? [] : (JSON.parse(text) as WireNetwork[]);
  return networks.map((n) => ({ site, ...n }));
}
