/**
 * `callcast webhooks list|replay`: the dead (parked) webhook deliveries in the store's outbox.
 * `replay --id ID` or `replay --all` makes them pending again; a running service sends them
 * within its poll interval (in order per call), with a fresh retry horizon.
 */
import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { sqlitePathFor } from '../app.js';
import { openStore } from '../store/store.js';
import { deadDeliveryView, deliveries } from '../events/dead-deliveries.js';

export const WEBHOOKS_HELP = `webhooks commands:
  webhooks list [--limit N]          List dead (parked) webhook deliveries.
  webhooks replay --id ID            Send one dead delivery again.
  webhooks replay --all              Send every dead delivery again.
  (store options as for serve: --data-dir, --database-url)
`;

export class WebhooksUsageError extends Error {}

/** Runs a webhooks subcommand; `config` comes from the environment and the store flags. */
export async function webhooksCommand(
  args: string[],
  config: (flags: Record<string, unknown>) => Config,
  out: (text: string) => void,
): Promise<void> {
  const [sub, ...rest] = args;
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: rest,
      options: {
        id: { type: 'string' },
        all: { type: 'boolean' },
        limit: { type: 'string' },
        'data-dir': { type: 'string' },
        'database-url': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
      strict: true,
    }).values;
  } catch (err) {
    throw new WebhooksUsageError((err as Error).message);
  }
  if (values.help || sub === undefined) return out(WEBHOOKS_HELP);
  if (sub !== 'list' && sub !== 'replay') throw new WebhooksUsageError(`unknown webhooks command "${sub}" (list or replay)`);
  if (sub === 'replay' && (values.id === undefined) === (values.all !== true)) {
    throw new WebhooksUsageError('webhooks replay needs exactly one of --id ID or --all');
  }
  let limit = 100;
  if (values.limit !== undefined) {
    if (typeof values.limit !== 'string' || !/^\d+$/.test(values.limit) || Number(values.limit) < 1)
      throw new WebhooksUsageError('--limit must be a positive whole number');
    limit = Number(values.limit);
  }
  const cfg = config(values);
  const store = await openStore({ ...(cfg.databaseUrl ? { databaseUrl: cfg.databaseUrl } : {}), sqlitePath: sqlitePathFor(cfg) });
  try {
    const outbox = store.webhookOutbox;
    if (sub === 'list') {
      const dead = await outbox.listDead(limit);
      const total = await outbox.countDead();
      for (const v of dead.map(deadDeliveryView)) {
        out(`${v.id}  ${v.dead_at}  ${v.event_type}  ${v.call_cid ?? '-'}  ${v.url}  attempts=${v.attempts}  ${v.reason}\n`);
      }
      out(`${deliveries(total, 'dead')}${total > dead.length ? ` (${dead.length} shown)` : ''}\n`);
      return;
    }
    const n = await outbox.replayDead(values.all === true ? { all: true } : { id: values.id as string }, Date.now());
    if (values.id !== undefined && n === 0) throw new WebhooksUsageError(`no dead delivery with id "${values.id}"`);
    out(`${deliveries(n)} queued again\n`);
  } finally {
    await store.close();
  }
}
