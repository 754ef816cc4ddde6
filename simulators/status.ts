import type { HyperVApi, VmView } from './api.ts';

/** What `drctl sim status` shows: per site, VMs by power state and health, hosts down, worst lag. */

export interface SiteSummary {
  site: string;
  reachable: boolean;
  vms?: number;
  hostsDown?: number;
  power?: Record<string, number>;
  health?: Record<string, number>;
  testVms?: number;
  /** The primary VM whose last replication is oldest. */
  worstLag?: { vm: string; lagSec: number } | null;
}

export interface WorldSummary {
  now: string;
  sites: SiteSummary[];
}

function countBy(vms: VmView[], key: (v: VmView) => string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of vms) {
    const k = key(v);
    if (k !== undefined) out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

export async function summarizeWorld(api: HyperVApi): Promise<WorldSummary> {
  const now = await api.now();
  const nowMs = Date.parse(now);
  const sites: SiteSummary[] = [];
  for (const site of await api.listSites()) {
    let vms: VmView[];
    let hostsDown: number;
    try {
      vms = await api.listVMs(site);
      hostsDown = (await api.listHosts(site)).filter((h) => !h.powered).length;
    } catch {
      sites.push({ site, reachable: false });
      continue;
    }
    let worstLag: { vm: string; lagSec: number } | null = null;
    for (const v of vms) {
      const last = v.replication?.lastReplicationTime;
      if (v.replication?.mode !== 'Primary' || last === undefined) continue;
      const lagSec = Math.round((nowMs - Date.parse(last)) / 1000);
      if (worstLag === null || lagSec > worstLag.lagSec) worstLag = { vm: v.name, lagSec };
    }
    sites.push({
      site,
      reachable: true,
      vms: vms.length,
      hostsDown,
      power: countBy(vms, (v) => v.state),
      health: countBy(vms, (v) => v.replication?.health),
      testVms: vms.filter((v) => v.isTest).length,
      worstLag,
    });
  }
  return { now, sites };
}

export function formatSummary(summary: WorldSummary): string {
  const fmt = (r: Record<string, number> | undefined): string =>
    Object.entries(r ?? {})
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || '-';
  const lines = [`simulated time ${summary.now}`];
  for (const s of summary.sites) {
    if (!s.reachable) {
      lines.push(`  ${s.site}: unreachable (powered off)`);
      continue;
    }
    const lag = s.worstLag ? `; worst lag ${s.worstLag.lagSec}s (${s.worstLag.vm})` : '';
    lines.push(
      `  ${s.site}: ${s.vms} VMs (${s.testVms} test) on up hosts, ${s.hostsDown} host(s) down; power: ${fmt(s.power)}; health: ${fmt(s.health)}${lag}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
