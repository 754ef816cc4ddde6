/**
 * `drctl notify add|list|remove|test`: the control plane's webhook subscriptions (`--server`,
 * DR_SERVER). The secret deliveries are signed with is printed once, by `add`.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { createApiRequester, serverUrlFrom } from '../client/index.ts';
import { InputError } from '../common/index.ts';
import {
  type DeliveryStatus,
  NOTIFICATION_TYPES,
  type Subscription,
  webhookUrlProblem,
} from '../control/notify/index.ts';
import { SERVER_OPTION } from './server-option.ts';

interface Flags {
  server?: string;
  json?: boolean;
}

type SubscriptionView = Subscription & { status: DeliveryStatus };

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerNotifyCommand(program: Command): void {
  const notify = program
    .command('notify')
    .description(`Webhook notifications of the control plane (events: ${NOTIFICATION_TYPES.join(', ')})`);
  notify
    .command('add')
    .description('Subscribe a webhook; prints its id and signing secret (shown this once)')
    .requiredOption('--url <url>', 'http:// or https:// URL the notifications are POSTed to')
    .option('--event <type>', 'an event type to deliver (repeat it; none: every type)', collect, [])
    .option('--secret-file <file>', 'read the signing secret from this file (default: one is generated)')
    .option(...SERVER_OPTION)
    .option('--json', 'machine-readable output')
    .action(async (flags: Flags & { url: string; event: string[]; secretFile?: string }) => {
      const problem = webhookUrlProblem(flags.url);
      if (problem !== undefined) throw new InputError('NOTIFY_BAD_URL', `--url: ${problem}`);
      for (const type of flags.event)
        if (!(NOTIFICATION_TYPES as readonly string[]).includes(type))
          throw new InputError(
            'NOTIFY_UNKNOWN_EVENT',
            `--event ${type}: not an event type; one of ${NOTIFICATION_TYPES.join(', ')}`,
          );
      const secret = flags.secretFile === undefined ? undefined : readSecret(flags.secretFile);
      const call = createApiRequester(serverUrlFrom(flags.server));
      const created = await call<{ subscription: Subscription; secret: string }>(
        'POST',
        '/api/v1/notifications',
        {
          body: { url: flags.url, events: flags.event, ...(secret === undefined ? {} : { secret }) },
        },
      );
      if (flags.json) process.stdout.write(`${JSON.stringify(created)}\n`);
      else {
        process.stdout.write(
          `subscribed ${created.subscription.id} → ${created.subscription.url} (${eventsText(created.subscription)})\n`,
        );
        if (secret === undefined)
          process.stdout.write(`secret (shown once; verify X-DR-Signature with it): ${created.secret}\n`);
      }
    });
  notify
    .command('list')
    .description('Subscriptions with their last delivery, failures and pending deliveries')
    .option(...SERVER_OPTION)
    .option('--json', 'machine-readable output')
    .action(async (flags: Flags) => {
      const call = createApiRequester(serverUrlFrom(flags.server));
      const view = await call<{ subscriptions: SubscriptionView[]; queueDepth: number | null }>(
        'GET',
        '/api/v1/notifications',
      );
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(view)}\n`);
        return;
      }
      if (view.subscriptions.length === 0)
        process.stdout.write('no subscriptions (drctl notify add --url ...)\n');
      for (const s of view.subscriptions) {
        const last =
          s.status.last === null
            ? 'no delivery yet'
            : `last ${s.status.last.outcome} ${s.status.last.at} (${s.status.last.type}, attempt ${s.status.last.attempt}: ${s.status.last.detail})`;
        process.stdout.write(
          `${s.id}  ${s.url}  [${eventsText(s)}]\n  ${last}; delivered ${s.status.delivered}, failed attempts ${s.status.failedAttempts}, given up ${s.status.givenUp}, pending ${s.status.pending}\n`,
        );
      }
      process.stdout.write(`queue depth: ${view.queueDepth ?? 'unknown (no notifier)'}\n`);
    });
  notify
    .command('remove <id>')
    .description('Remove a subscription (its pending deliveries are dropped)')
    .option(...SERVER_OPTION)
    .option('--json', 'machine-readable output')
    .action(async (id: string, flags: Flags) => {
      const call = createApiRequester(serverUrlFrom(flags.server));
      const removed = await call<{ removed: string }>(
        'DELETE',
        `/api/v1/notifications/${encodeURIComponent(id)}`,
      );
      process.stdout.write(flags.json ? `${JSON.stringify(removed)}\n` : `removed ${removed.removed}\n`);
    });
  notify
    .command('test <id>')
    .description('Send a test notification (type notification.test) to one subscription')
    .option(...SERVER_OPTION)
    .option('--json', 'machine-readable output')
    .action(async (id: string, flags: Flags) => {
      const call = createApiRequester(serverUrlFrom(flags.server));
      const sent = await call<{ id: string; deliveries: number }>(
        'POST',
        `/api/v1/notifications/${encodeURIComponent(id)}/test`,
        { body: {} },
      );
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(sent)}\n`
          : `test notification ${sent.id} queued; drctl notify list shows its outcome\n`,
      );
    });
}

function eventsText(s: Subscription): string {
  return s.events.length === 0 ? 'every event' : s.events.join(', ');
}

function readSecret(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new InputError(
      'NOTIFY_SECRET_FILE',
      `--secret-file ${file}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`,
    );
  }
  if (text.length < 16)
    throw new InputError(
      'NOTIFY_WEAK_SECRET',
      `--secret-file ${file}: the secret needs at least 16 characters`,
    );
  return text;
}
