/**
 * Which engine a command talks to: the control plane when `--server <url>` or DR_SERVER names
 * one, else the engine in this process (REDIS_URL, and --sim for what reads the sites). On the
 * control plane's path a flag of the direct path is refused rather than silently ignored.
 */
import type { Command } from 'commander';
import { serverUrlFrom } from '../client/index.ts';
import { InputError } from '../common/index.ts';

export const SERVER_OPTION = [
  '--server <url>',
  "the control plane's URL (`drctl up`, `drctl serve`; default DR_SERVER, else https://127.0.0.1:7080); only with neither and REDIS_URL set does the engine run in this process on Redis",
] as const;

/**
 * The control plane's URL: `--server`, DR_SERVER, or (neither, and nothing naming the direct path)
 * the default one `drctl up` and `drctl serve` listen on; undefined: the direct path, which a
 * REDIS_URL or a `--sim` without either names (as run/connect.ts usesServer).
 */
export function serverOf(flags: { server?: string; sim?: string }): string | undefined {
  const named = flags.server !== undefined || (process.env.DR_SERVER ?? '') !== '';
  const direct = (process.env.REDIS_URL ?? '') !== '' || flags.sim !== undefined;
  if (!named && direct) return undefined;
  return serverUrlFrom(flags.server);
}

/**
 * `--prefix` and `--sim` name the direct path's Redis keys and sites: the control plane has its
 * own (`drctl serve --prefix`, its inventory). Given with a server, they are bad input.
 */
export function refuseDirectFlags(command: Command, server: string): void {
  for (const name of ['prefix', 'sim']) {
    const source = command.getOptionValueSource(name);
    if (source === 'cli' || source === 'env')
      throw new InputError(
        'FLAG_NOT_FOR_SERVER',
        `--${name} is for the engine in this process; the control plane at ${server} has its own ${name === 'prefix' ? 'key prefix (`drctl serve --prefix`)' : "view of the sites (its agents' inventory)"}: drop --${name}, or drop --server and DR_SERVER`,
      );
  }
}

/**
 * `--ca <file>`: the CA certificate an https control plane is trusted by (the vault's ca.pem),
 * for this command; it sets DR_CA_FILE, which engine/client/tls.ts reads.
 */
export function registerCaOption(program: Command): void {
  program.option(
    '--ca <file>',
    "the CA certificate (PEM) an https control plane is trusted by: the vault's ca.pem (default DR_CA_FILE, else the one `drctl up` wrote for its server, else the vault folder's)",
  );
  program.hook('preAction', (root) => {
    const given = root.opts<{ ca?: string }>().ca;
    if (given === undefined) return;
    if (given.trim() === '')
      throw new InputError('EMPTY_CA_FILE', "--ca is empty; give the vault's ca.pem (`drctl up` prints it)");
    process.env.DR_CA_FILE = given;
  });
}
