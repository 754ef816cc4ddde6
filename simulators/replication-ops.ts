import type { VmView } from './api.ts';
import { SimError } from './errors.ts';
import { invalid } from './failover.ts';
import type { VmInstance } from './model.ts';
import { beginResync, changeLogBytes, pathUp } from './replication.ts';
import { mainRelationship, vmView } from './views.ts';
import type { WorldCore } from './world.ts';

/** Resume-VMReplication -Resynchronize, Suspend-VMReplication, Resume-VMReplication: on the primary. */

export function resyncReplication(world: WorldCore, vm: VmInstance): VmView {
  const rel = mainRelationship(vm);
  if (vm.role !== 'Primary' || rel === null)
    throw invalid(vm, 'Resume-VMReplication -Resynchronize runs on a primary VM');
  if (rel.state !== 'WaitingForStartResynchronize')
    throw invalid(vm, `replication is ${rel.state}, no resynchronization is required`);
  if (!pathUp(world, rel)) {
    throw new SimError(
      'SITE_UNREACHABLE',
      `VM '${vm.name}': the replica at site '${rel.target.site}' cannot be reached`,
      {
        site: vm.site,
        vm: vm.name,
      },
    );
  }
  beginResync(rel, world.now, Math.min(vm.diskBytes, changeLogBytes(rel, world.now)));
  return vmView(world, vm);
}

export function suspendReplication(world: WorldCore, vm: VmInstance): VmView {
  const rel = mainRelationship(vm);
  if (vm.role !== 'Primary' || rel === null) throw invalid(vm, 'Suspend-VMReplication runs on a primary VM');
  if (rel.state !== 'Replicating' && rel.state !== 'Error')
    throw invalid(vm, `replication is ${rel.state}; only a replicating VM can be paused`);
  rel.state = 'Suspended';
  return vmView(world, vm);
}

export function resumeReplication(world: WorldCore, vm: VmInstance): VmView {
  const rel = mainRelationship(vm);
  if (vm.role !== 'Primary' || rel === null) throw invalid(vm, 'Resume-VMReplication runs on a primary VM');
  if (rel.state !== 'Suspended') throw invalid(vm, `replication is ${rel.state}, not paused`);
  rel.state = 'Replicating';
  rel.failingSince = null;
  return vmView(world, vm);
}
