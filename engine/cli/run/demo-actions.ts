/**
 * The demo's stand-ins for a plan's actions: a script catalog whose scripts print what they would
 * do, and a local receiver for its webhooks. The control plane runs the plan it is sent as YAML,
 * so the webhooks are pointed at the receiver in a copy of the plan's text (comments and layout
 * kept), which is then loaded again like any plan file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMap, parseDocument } from 'yaml';
import { InputError } from '../../common/index.ts';
import { formatIssue, parsePlan } from '../../plan/index.ts';
import type { RecoveryPlan } from '../../plan/types.ts';

export interface DemoActions {
  /** The folder of the demo's scripts, given to the control plane and to every agent. */
  catalog: string;
  /** The receiver's URL, where the demo's copy of the plan sends its webhooks. */
  webhookUrl: string;
  close(): Promise<void>;
}

export async function startDemoActions(plan: RecoveryPlan): Promise<DemoActions> {
  const catalog = mkdtempSync(join(tmpdir(), 'drorch-demo-scripts-'));
  for (const action of plan.actions) {
    for (const run of [action.run, action.undo]) {
      if (run?.type === 'script') {
        writeFileSync(
          join(catalog, `${run.script}.sh`),
          `#!/bin/sh\necho "[demo script ${run.script}] $*"\n`,
          { mode: 0o755 },
        );
      }
    }
  }
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    catalog,
    webhookUrl: `http://127.0.0.1:${port}/webhook`,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(catalog, { recursive: true, force: true });
    },
  };
}

/**
 * The plan's text with every webhook (`webhook: <url>` or `webhook: {url}`, of an action or its
 * undo) sent to `url`, loaded again: the plan, its hash and the source the control plane is sent
 * (under the file's name, so that what it reports is located in the file).
 */
export function withWebhooksTo(
  text: string,
  file: string,
  url: string,
): { plan: RecoveryPlan; hash: string; source: { file: string; text: string } } {
  const doc = parseDocument(text);
  const actions = doc.getIn(['spec', 'actions']);
  const count =
    actions !== null && typeof actions === 'object' && 'items' in actions
      ? (actions.items as unknown[]).length
      : 0;
  for (let i = 0; i < count; i++) {
    for (const at of [
      ['spec', 'actions', i],
      ['spec', 'actions', i, 'undo'],
    ]) {
      const hook = doc.getIn([...at, 'webhook']);
      if (hook === undefined) continue;
      doc.setIn(isMap(hook) ? [...at, 'webhook', 'url'] : [...at, 'webhook'], url);
    }
  }
  const rewritten = doc.toString();
  const result = parsePlan(rewritten, file);
  if (!result.ok) {
    // The file loaded before the rewrite: a failure here is the demo's, said with the issues.
    throw new InputError(
      'DEMO_PLAN',
      `${file} with its webhooks sent to the demo's receiver is not a valid plan:\n${result.issues.map(formatIssue).join('\n')}`,
    );
  }
  return { plan: result.plan, hash: result.hash, source: { file, text: rewritten } };
}
