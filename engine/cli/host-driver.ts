import { createSimClient } from '../../simulators/index.ts';
import { InputError } from '../common/index.ts';
import type { HostDriver } from '../hosts/index.ts';

/**
 * The CLI's one wiring of a host driver: today the simulated Hyper-V hosts of `drctl sim serve`,
 * reached over HTTP; a WinRM/PowerShell connector plugs in here later. Nothing else in the engine
 * knows which driver it talks to.
 */
export function connectHostDriver(
  url: string,
  options: {
    readBeforeHeartbeatWait?: boolean;
    /** The command's option that gave `url`, named when it is bad. @defaultValue `'--sim'` */
    option?: string;
  } = {},
): HostDriver & { close(): void } {
  const { option = '--sim', ...client } = options;
  return createSimClient({ url: checkedUrl(url, option), ...client });
}

/**
 * The one help text of `--sim` on the commands that also go through the control plane (drill,
 * preflight, commit...): there the agents read the sites, so `--sim` belongs to the direct path.
 */
export const SIM_OPTION_HELP =
  "direct path only (with REDIS_URL, or alone; never with --server or DR_SERVER): the sites' host endpoint, today the simulator's URL (`drctl sim serve`; default DR_SIM_URL); through the control plane the sites' agents read them";

/** The help text of the host endpoint of a process that talks to the hosts itself (agent, worker). */
export const HOSTS_OPTION_HELP =
  "the sites' host endpoint: today the simulator's URL (`drctl sim serve`); required unless DR_SIM_URL is set";

/**
 * The sites' URL from `--sim`, else DR_SIM_URL; neither is bad input (exit 2) that says what needs
 * it (`why`, e.g. "pre-flight reads the sites before a commit").
 */
export function simUrlFrom(flag: string | undefined, why: string): string {
  const url = flag ?? process.env.DR_SIM_URL;
  if (url === undefined || url === '') {
    throw new InputError(
      'NO_SIM',
      `${why}: give --sim <url> or set DR_SIM_URL (the URL \`drctl sim serve\` prints)`,
    );
  }
  return url;
}

/**
 * `--sim` (`--hosts` for an agent) / DR_SIM_URL must be an http(s) URL: anything else is bad input
 * (exit 2), said once, naming the option the command has.
 */
function checkedUrl(url: string, option: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new InputError(
      'BAD_SIM_URL',
      `the sites' URL '${url}' (${option} or DR_SIM_URL) is not an http(s) URL; give the one \`drctl sim serve\` prints, e.g. http://127.0.0.1:7070`,
    );
  }
  return url;
}
