/**
 * The agents' keys in the vault. Everything of one site is under the hash tag `{agent:<site>}` (one
 * Redis Cluster slot, so a script may touch its session, its ready list and its units at once):
 *
 * - `<prefix>:{agent:<site>}:session`: HASH of the site's agent session (session, agentId, version,
 *   helloAt, heartbeatAt, hostsSeenAt), replaced by each hello it accepts (sessions.ts);
 * - `<prefix>:{agent:<site>}:ready`: LIST of unit ids waiting to be handed (a poll pops them);
 * - `<prefix>:{agent:<site>}:unit:<id>`: HASH of one unit handed out: `u` (the HandedUnit JSON),
 *   `s` (the session it was last handed to, '' before), `h` (when), `r` (the agent's report, once
 *   accepted); a TTL so a unit nobody waits for any more goes by itself;
 * - `<prefix>:{agent:<site>}:running`: the units the agent's last heartbeat said it holds.
 *
 * `<prefix>:agents` is the SET of sites an agent ever said hello for (each control plane runs a
 * relay for each). Channels: `<prefix>:agents:wake` (a site whose ready list grew) and
 * `<prefix>:agents:results` (a unit id whose report was accepted).
 */
export interface AgentKeys {
  session: string;
  ready: string;
  running: string;
  /** Prefix of the unit hashes: `${unitPrefix}${id}`. */
  unitPrefix: string;
}

export function agentKeys(prefix: string, site: string): AgentKeys {
  const base = `${prefix}:{agent:${site}}`;
  return {
    session: `${base}:session`,
    ready: `${base}:ready`,
    running: `${base}:running`,
    unitPrefix: `${base}:unit:`,
  };
}

export function agentSitesKey(prefix: string): string {
  return `${prefix}:agents`;
}

export function wakeChannel(prefix: string): string {
  return `${prefix}:agents:wake`;
}

export function resultsChannel(prefix: string): string {
  return `${prefix}:agents:results`;
}

/** How long a handed unit is kept without being picked up or finished (s). */
export const UNIT_TTL_S = 24 * 3600;
