/** What one evaluation of a lifecycle pre-flight reads (both sites, indexed) and writes (findings, rows). */
import type { HostView, VmView } from '../hosts/index.ts';
import type { LifecycleCheck, LifecycleInventory, LifecycleVmRow } from './lifecycle-types.ts';
import type { BlockerCode, Finding, SiteRead, WarningCode } from './types.ts';

export interface Site {
  site: string;
  vms: Map<string, VmView>;
  hosts: Map<string, HostView>;
}

export function indexSite(read: SiteRead): Site | undefined {
  if (!read.ok) return undefined;
  return {
    site: read.site,
    vms: new Map(read.vms.filter((v) => !v.isTest).map((v) => [v.name, v])),
    hosts: new Map(read.hosts.map((h) => [h.name, h])),
  };
}

/** Everything one evaluation reads and writes. */
export class LifecycleEval {
  readonly findings: Finding[] = [];
  readonly rows: LifecycleVmRow[] = [];
  readonly leftOut: { vm: string; reason: string }[] = [];
  readonly to: Site | undefined;
  readonly from: Site | undefined;
  private readonly index = new Map<string, number>();

  constructor(
    readonly check: LifecycleCheck,
    readonly inventory: LifecycleInventory,
  ) {
    check.plan.vms.forEach((vm, i) => {
      this.index.set(vm.name, i);
    });
    this.to = indexSite(inventory.to);
    this.from = indexSite(inventory.from);
  }

  get forward(): boolean {
    return this.check.fromSite === this.check.plan.source;
  }

  sitePath(which: 'to' | 'from'): string {
    const source = (which === 'from') === this.forward;
    return source ? 'spec.source' : 'spec.target';
  }

  vmPath(vm: string): string {
    const i = this.index.get(vm);
    return i === undefined ? 'spec.vms' : `spec.vms[${i}]`;
  }

  block(code: BlockerCode, vm: string | undefined, site: string, message: string, hint: string): void {
    this.findings.push({ severity: 'blocker', code, ...this.place(vm, site), message, hint });
  }

  warn(code: WarningCode, vm: string | undefined, site: string, message: string, hint: string): void {
    this.findings.push({ severity: 'warning', code, ...this.place(vm, site), message, hint });
  }

  /** Where a finding stands: at the VM in the plan, or at the site's field when it is about no VM. */
  private place(vm: string | undefined, site: string): { vm?: string; site: string; path: string } {
    return {
      ...(vm === undefined ? {} : { vm }),
      site,
      path: vm === undefined ? this.sitePath(site === this.check.toSite ? 'to' : 'from') : this.vmPath(vm),
    };
  }
}

/** Where a VM is and what it is, for messages: `dc-west/hv-1: Running, Replica Replicating`. */
export function where(view: VmView): string {
  return `${view.site}/${view.host}: ${view.state}${view.replication ? `, ${view.replication.mode} ${view.replication.state}` : ''}`;
}
