import type { VmView } from '../../hosts/index.ts';
import type { HandlerContext } from './context.ts';

/**
 * Record what a handler saw of a primary (engine/locks sightings), at the host's time, for the
 * data-loss claims: running, turned off by the engine (`fence`, `shutdown`), or found off (`read`).
 * Best effort: a sighting that cannot be recorded never fails the step (the claim is then wider
 * or a lower bound, never wrong). Returns the host time used, when it could be read.
 */
export async function recordSighting(
  ctx: HandlerContext,
  site: string,
  vm: string,
  seen: 'running' | 'fence' | 'shutdown' | 'read',
  at?: string,
): Promise<string | undefined> {
  const store = ctx.sightings;
  try {
    const time = at ?? (await ctx.api.now());
    if (store !== undefined) {
      if (seen === 'running') await store.running(site, vm, time);
      else await store.off(site, vm, time, seen);
    }
    return time;
  } catch (error) {
    ctx.log.debug({ err: error, site, vm, seen }, 'sighting not recorded');
    return undefined;
  }
}

/** The engine started `vm` at `site`: its earlier off-sighting is void (best effort, as above). */
export async function recordStarted(ctx: HandlerContext, site: string, vm: string): Promise<void> {
  try {
    await ctx.sightings?.started(site, vm);
  } catch (error) {
    ctx.log.debug({ err: error, site, vm }, 'start not recorded');
  }
}

/** Running or Starting as a primary (a guest that may write). */
export function mayWrite(view: VmView): boolean {
  return !view.isTest && (view.state === 'Running' || view.state === 'Starting');
}
