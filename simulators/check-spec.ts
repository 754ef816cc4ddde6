import type { WorldSpec } from './spec.ts';

export interface SpecProblem {
  /** Path into the spec, e.g. ['vms', 3, 'replication', 'host']. */
  path: (string | number)[];
  message: string;
}

/** Cross-reference checks a schema cannot express: names exist, are unique, and fit Hyper-V's rules. */
export function checkWorldSpec(spec: WorldSpec): SpecProblem[] {
  const problems: SpecProblem[] = [];
  const hosts = new Map<string, Set<string>>();
  const networks = new Map<string, Set<string>>();
  spec.sites.forEach((site, i) => {
    if (hosts.has(site.name))
      problems.push({ path: ['sites', i, 'name'], message: `site '${site.name}' is defined twice` });
    const names = new Set<string>();
    site.hosts.forEach((h, j) => {
      if (names.has(h.name))
        problems.push({
          path: ['sites', i, 'hosts', j, 'name'],
          message: `host '${h.name}' is defined twice in site '${site.name}'`,
        });
      names.add(h.name);
    });
    hosts.set(site.name, names);
    networks.set(site.name, new Set((site.networks ?? []).map((n) => n.name)));
  });
  const hostRef = (path: (string | number)[], site: string, host: string): void => {
    const siteHosts = hosts.get(site);
    if (!siteHosts)
      problems.push({
        path: [...path, 'site'],
        message: `unknown site '${site}' (sites: ${[...hosts.keys()].join(', ')})`,
      });
    else if (!siteHosts.has(host)) {
      problems.push({
        path: [...path, 'host'],
        message: `site '${site}' has no host '${host}' (hosts: ${[...siteHosts].join(', ')})`,
      });
    }
  };
  (spec.links ?? []).forEach((link, i) => {
    link.between.forEach((s, j) => {
      if (!hosts.has(s)) problems.push({ path: ['links', i, 'between', j], message: `unknown site '${s}'` });
    });
    if (link.between[0] === link.between[1])
      problems.push({ path: ['links', i, 'between'], message: 'a link joins two different sites' });
  });
  const vmNames = new Set<string>();
  spec.vms.forEach((vm, i) => {
    const path = ['vms', i];
    if (vmNames.has(vm.name))
      problems.push({ path: [...path, 'name'], message: `VM '${vm.name}' is defined twice` });
    if (vm.name.endsWith(' - Test'))
      problems.push({
        path: [...path, 'name'],
        message: "names ending in ' - Test' are reserved for test VMs",
      });
    vmNames.add(vm.name);
    hostRef(path, vm.site, vm.host);
    if (
      vm.network &&
      !networks.get(vm.site)?.has(vm.network.network) &&
      (spec.sites.find((s) => s.name === vm.site)?.networks ?? []).length > 0
    ) {
      problems.push({
        path: [...path, 'network', 'network'],
        message: `site '${vm.site}' has no network '${vm.network.network}'`,
      });
    }
    const r = vm.replication;
    if (!r) return;
    hostRef([...path, 'replication'], r.site, r.host);
    if (r.site === vm.site && r.host === vm.host) {
      problems.push({
        path: [...path, 'replication', 'host'],
        message: 'a VM cannot replicate to its own host',
      });
    }
    if (r.extended) {
      hostRef([...path, 'replication', 'extended'], r.extended.site, r.extended.host);
      const primaryFreq = r.frequencySec ?? 300;
      if ((r.extended.frequencySec ?? 300) < primaryFreq) {
        problems.push({
          path: [...path, 'replication', 'extended', 'frequencySec'],
          message: `extended replication cannot be more frequent than the primary replication (${primaryFreq} s)`,
        });
      }
      if (r.extended.site === r.site || r.extended.site === vm.site) {
        problems.push({
          path: [...path, 'replication', 'extended', 'site'],
          message: 'extended replication goes to a third site',
        });
      }
    }
  });
  // VMs that start Running must fit their hosts, as Hyper-V would not have started them otherwise.
  const load = new Map<string, { slots: number; memoryMb: number; first: number }>();
  spec.vms.forEach((vm, i) => {
    if ((vm.state ?? 'Running') !== 'Running') return;
    const key = `${vm.site}/${vm.host}`;
    const l = load.get(key) ?? { slots: 0, memoryMb: 0, first: i };
    l.slots++;
    l.memoryMb += vm.memoryMb ?? 4096;
    load.set(key, l);
  });
  for (const [key, l] of load) {
    const [siteName, hostName] = key.split('/') as [string, string];
    const host = spec.sites.find((s) => s.name === siteName)?.hosts.find((h) => h.name === hostName);
    if (!host) continue;
    const slots = host.vmSlots ?? 50;
    const memoryMb = host.memoryMb ?? 262_144;
    if (l.slots > slots || l.memoryMb > memoryMb) {
      problems.push({
        path: ['vms', l.first, 'host'],
        message: `host '${hostName}' at site '${siteName}' cannot run its ${l.slots} running VMs (${l.memoryMb} MB) with ${slots} slots and ${memoryMb} MB`,
      });
    }
  }
  (spec.faults ?? []).forEach((f, i) => {
    if ('site' in f && f.site !== undefined && !hosts.has(f.site))
      problems.push({ path: ['faults', i, 'site'], message: `unknown site '${f.site}'` });
    if ((f.kind === 'host-crash' || f.kind === 'host-up') && hosts.has(f.site))
      hostRef(['faults', i], f.site, f.host);
    if (f.kind === 'boot' && !vmNames.has(f.vm))
      problems.push({ path: ['faults', i, 'vm'], message: `unknown VM '${f.vm}'` });
    if (f.kind === 'link' || f.kind === 'throttle') {
      if (!hosts.has(f.from))
        problems.push({ path: ['faults', i, 'from'], message: `unknown site '${f.from}'` });
      if (!hosts.has(f.to)) problems.push({ path: ['faults', i, 'to'], message: `unknown site '${f.to}'` });
    }
  });
  return problems;
}
