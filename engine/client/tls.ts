/**
 * Which CA the CLI trusts a control plane's HTTPS certificate by: the vault's (its server
 * certificate is the vault CA's, engine/control/vault). `--ca <file>` (which sets DR_CA_FILE for
 * the command), else DR_CA_FILE, else the CA file `drctl up` wrote beside its token for this very
 * server, else the vault folder's `ca.pem` (DR_VAULT_DIR, else `$XDG_STATE_HOME/drorch/vault`) when
 * there is one; none of them: the system's CAs. Certificate checks are never turned off.
 */
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Agent, type Dispatcher } from 'undici';
import { DrError } from '../common/index.ts';
import { upSaved } from './token.ts';

function vaultCaFile(env: NodeJS.ProcessEnv): string {
  const state = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(env.DR_VAULT_DIR || join(state, 'drorch', 'vault'), 'ca.pem');
}

function exists(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The CA file for `server` (only an https one needs one); undefined: the system's CAs. */
export function caFileFor(server: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!server.startsWith('https:')) return undefined;
  const named = env.DR_CA_FILE?.trim();
  if (named !== undefined && named !== '') return named;
  const up = upSaved(server, env)?.ca;
  if (typeof up === 'string' && exists(up)) return up;
  const vault = vaultCaFile(env);
  return exists(vault) ? vault : undefined;
}

/** The PEM certificates of `file`, or bad input naming the file and what to give instead. */
export function readCaFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new DrError(
      'CA_FILE_UNREADABLE',
      `cannot read the CA file '${file}' (--ca or DR_CA_FILE): ${(error as NodeJS.ErrnoException).code ?? String(error)}; give the vault's ca.pem (\`drctl vault init\` wrote it, \`drctl up\` prints it)`,
      { exitCode: 2 },
    );
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    throw new DrError(
      'CA_FILE_INVALID',
      `the CA file '${file}' (--ca or DR_CA_FILE) holds no PEM certificate; give the vault's ca.pem`,
      { exitCode: 2 },
    );
  }
  return text;
}

const dispatchers = new Map<string, Dispatcher>();

/**
 * fetch's dispatcher for `server`: a connection pool trusting its CA file (one per file and
 * content, kept for the process); undefined for http or the system's CAs.
 */
export function dispatcherFor(server: string, env: NodeJS.ProcessEnv = process.env): Dispatcher | undefined {
  const file = caFileFor(server, env);
  return file === undefined ? undefined : trusting(readCaFile(file));
}

/** A connection pool trusting the CA certificates `ca` (PEM), one per content. */
export function trusting(ca: string): Dispatcher {
  let dispatcher = dispatchers.get(ca);
  if (dispatcher === undefined) {
    dispatcher = new Agent({ connect: { ca } });
    dispatchers.set(ca, dispatcher);
  }
  return dispatcher;
}

/**
 * fetch's init with the dispatcher for `server` added: one trusting `ca` (PEM) when given (an
 * in-process caller that holds the vault's CA), else the CA file's; nothing added when neither.
 */
export function withTrust(server: string, init: RequestInit, ca?: string): RequestInit {
  const dispatcher = ca !== undefined && server.startsWith('https:') ? trusting(ca) : dispatcherFor(server);
  return dispatcher === undefined ? init : ({ ...init, dispatcher } as RequestInit);
}
