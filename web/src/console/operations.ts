/**
 * The console's operations page (`/console/operations`): webhook deliveries parked as dead, each
 * replayable (or all at once), and the cluster's live nodes with their load. Refreshed every 5 s.
 * Both need a server token or an admin user; the API's refusal is shown as it is worded.
 */
import { ApiRequestError, messageOf, type ApiClient, type ClusterJson, type DeadDeliveryJson } from '../lib/api.js';
import { h, render, tableWithHeads } from '../lib/dom.js';
import { formatShare, nodeState } from '../lib/format.js';

export interface OperationsView {
  root: HTMLElement;
  leave(): void;
}

const REFRESH_MS = 5000;

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** `onAuthError` takes a 401 (sign in again) and says whether it did. */
export function operationsView(api: ApiClient, onAuthError: (err: unknown) => boolean): OperationsView {
  let stopped = false;

  // ---- dead webhook deliveries ----
  const deadSummary = h('p', { id: 'dead-summary' }, 'Loading…');
  const deadBody = h('tbody');
  const deadTable = tableWithHeads(
    { 'aria-labelledby': 'dead-heading', hidden: true },
    ['Parked', 'Event', 'Call', 'Receiver', 'Attempts', 'Why', ''],
    deadBody,
    { class: 'nowrap' },
  );
  const replayAll = h('button', { type: 'button', id: 'replay-all', hidden: true }, 'Replay all');
  const deadStatus = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const deadError = h('p', { class: 'error', role: 'alert' });

  // ---- cluster ----
  const clusterSummary = h('p', { id: 'cluster-summary' }, 'Loading…');
  const clusterBody = h('tbody');
  const clusterTable = tableWithHeads(
    { 'aria-labelledby': 'cluster-heading', hidden: true },
    ['Node', 'Address', 'CPU', 'Encodes', 'Participants', 'Calls', 'State', 'Updated'],
    clusterBody,
  );
  const clusterError = h('p', { class: 'error', role: 'alert' });
  const refresh = h('button', { type: 'button', class: 'secondary' }, 'Refresh');

  const root = h(
    'div',
    {},
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'dead-heading' },
      h('div', { class: 'section-head' }, h('h1', { id: 'dead-heading' }, 'Dead webhook deliveries'), refresh),
      h(
        'p',
        { class: 'muted' },
        'Deliveries the receiver did not take within the retry horizon (CALLCAST_WEBHOOK_RETRY_HORIZON). A replay sends one again with a fresh horizon, in order with the rest of its call.',
      ),
      deadSummary,
      h('div', { class: 'table-wrap' }, deadTable),
      h('div', { class: 'actions' }, replayAll),
      deadStatus,
      deadError,
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'cluster-heading' },
      h('h2', { id: 'cluster-heading' }, 'Cluster'),
      clusterSummary,
      h('div', { class: 'table-wrap' }, clusterTable),
      clusterError,
    ),
  );

  const replay = async (selection: { id: string } | { all: true }, button: HTMLButtonElement) => {
    button.disabled = true;
    deadError.textContent = '';
    try {
      const { replayed } = await api.replayDeadWebhooks(selection);
      deadStatus.textContent = `${plural(replayed, 'delivery', 'deliveries')} queued again.`;
    } catch (err) {
      if (onAuthError(err)) return;
      deadError.textContent = messageOf(err);
    } finally {
      button.disabled = false;
    }
    await load();
  };

  const showDead = (total: number, deliveries: DeadDeliveryJson[]) => {
    deadSummary.textContent =
      total === 0
        ? 'No dead deliveries: every webhook was delivered or is still being retried.'
        : `${plural(total, 'dead delivery', 'dead deliveries')}${total > deliveries.length ? ` (the oldest ${deliveries.length} shown)` : ''}.`;
    deadTable.hidden = deliveries.length === 0;
    replayAll.hidden = total === 0;
    render(
      deadBody,
      ...deliveries.map((d) => {
        const button = h('button', { type: 'button', class: 'secondary', 'data-delivery': d.id }, 'Replay');
        button.addEventListener('click', () => void replay({ id: d.id }, button));
        return h(
          'tr',
          { 'data-delivery': d.id },
          h('td', { class: 'nowrap' }, new Date(d.dead_at).toLocaleString()),
          h('td', { class: 'nowrap' }, d.event_type),
          h('td', {}, d.call_cid ?? '—'),
          h('td', {}, d.url),
          h('td', { class: 'nowrap' }, d.attempts),
          h('td', {}, d.reason),
          h('td', { class: 'nowrap' }, button),
        );
      }),
    );
  };

  const showCluster = (cluster: ClusterJson) => {
    if (!cluster.cluster) {
      clusterSummary.textContent = 'This server runs alone (cluster mode is off: CALLCAST_REDIS_URL is not set).';
      clusterTable.hidden = true;
      return;
    }
    clusterSummary.textContent = `${plural(cluster.nodes.length, 'live node', 'live nodes')}, as ${cluster.node} sees them.`;
    clusterTable.hidden = false;
    render(
      clusterBody,
      ...cluster.nodes.map((n) =>
        h(
          'tr',
          { 'data-node': n.id },
          h('td', {}, n.id === cluster.node ? `${n.id} (this node)` : n.id),
          h('td', {}, n.url),
          h('td', {}, formatShare(n.cpu)),
          h('td', {}, n.groups),
          h('td', {}, n.participants),
          h('td', {}, n.calls),
          h('td', {}, nodeState(n)),
          h('td', {}, new Date(n.updated_at).toLocaleTimeString()),
        ),
      ),
    );
  };

  async function load(): Promise<void> {
    const [dead, cluster] = await Promise.allSettled([api.deadWebhooks(), api.cluster()]);
    if (stopped) return;
    for (const r of [dead, cluster]) if (r.status === 'rejected' && r.reason instanceof ApiRequestError && onAuthError(r.reason)) return;
    if (dead.status === 'fulfilled') {
      deadError.textContent = '';
      showDead(dead.value.total, dead.value.deliveries);
    } else {
      deadSummary.textContent = '';
      deadError.textContent = messageOf(dead.reason);
    }
    if (cluster.status === 'fulfilled') {
      clusterError.textContent = '';
      showCluster(cluster.value);
    } else {
      clusterSummary.textContent = '';
      clusterError.textContent = messageOf(cluster.reason);
    }
  }

  replayAll.addEventListener('click', () => void replay({ all: true }, replayAll));
  refresh.addEventListener('click', () => void load());
  void load();
  const poll = setInterval(() => void load(), REFRESH_MS);
  return {
    root,
    leave: () => {
      stopped = true;
      clearInterval(poll);
    },
  };
}
