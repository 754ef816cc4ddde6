import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTROL_VERSION } from '../../engine/control/index.ts';
import { useTempDirs } from '../support/temp.ts';
import { presented, stampOf, startVaultStack, tlsRequest, type VaultStack } from './support.ts';

const temp = useTempDirs();
let stack: VaultStack;

beforeAll(async () => {
  stack = await startVaultStack(temp);
});
afterAll(async () => {
  await stack?.close();
});

const hello = (site: string) => ({
  site,
  agentId: `${site}-agent`,
  version: CONTROL_VERSION,
  scriptCatalog: { scripts: {} },
});

describe('when an agent registered with a key', () => {
  it('says hello over mTLS and heartbeats with a signed, stamped message', async () => {
    const identity = await stack.register('dc-east');
    const ca = stack.control.ca ?? [];
    const inc = 'inc-aaaaaaaa';
    const said = await tlsRequest(stack.control.url, ca, 'POST', '/api/v1/agents/dc-east/hello', {
      as: presented(identity),
      body: hello('dc-east'),
      headers: stampOf(identity, inc, 0, hello('dc-east')),
    });
    expect(said.status, JSON.stringify(said.body)).toBe(200);
    const beat = { session: said.body.session, running: [] };
    const ok = await tlsRequest(stack.control.url, ca, 'POST', '/api/v1/agents/dc-east/heartbeat', {
      as: presented(identity),
      body: beat,
      headers: stampOf(identity, inc, 1, beat, true),
    });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
  });
});
