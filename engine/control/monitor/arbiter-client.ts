/** Asking the arbiter (`drctl arbiter`) when it last heard of a site: undefined when it did not answer. */
import { type ArbiterSite, arbiterSiteSchema } from '../../contract/index.ts';

export async function askArbiter(
  arbiterUrl: string,
  site: string,
  timeoutMs: number,
): Promise<ArbiterSite | undefined> {
  try {
    const response = await fetch(`${arbiterUrl.replace(/\/$/, '')}/sites/${encodeURIComponent(site)}`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      return undefined;
    }
    return arbiterSiteSchema.parse(await response.json());
  } catch {
    return undefined;
  }
}
