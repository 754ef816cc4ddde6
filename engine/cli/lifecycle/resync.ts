/** A reprotect's resync as the summary prints it: the total, the longest estimate, each VM's health. */
import type { ResyncRow } from '../../client/index.ts';
import { formatElapsed } from '../../common/index.ts';

/** Per-VM rows are listed up to this many VMs; beyond, the total alone. */
const LISTED = 60;

export function resyncLines(rows: readonly ResyncRow[]): string[] {
  const total = rows.reduce((sum, r) => sum + (r.bytes ?? 0), 0);
  const longest = rows.reduce((max, r) => Math.max(max, r.estimateMs ?? 0), 0);
  const healthy = rows.filter((r) => r.health === 'Normal').length;
  const lines = [
    `  resync: ${(total / 1024 / 1024).toFixed(1)} MiB in total, longest estimate ${formatElapsed(longest)} simulated; replication health Normal for ${healthy}/${rows.length} VMs`,
  ];
  if (rows.length <= LISTED) {
    for (const r of rows) {
      lines.push(
        `    ${r.vm.padEnd(20)} resync ${((r.bytes ?? 0) / 1024 / 1024).toFixed(1).padStart(8)} MiB  estimate ${formatElapsed(r.estimateMs ?? 0).padStart(6)} simulated  healthy after ${r.waitedMs === undefined ? '-' : `${formatElapsed(r.waitedMs)} wall`}  ${r.health ?? ''}`,
      );
    }
  }
  return lines;
}
