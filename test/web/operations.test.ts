/**
 * The console's operations page in Debian's Chromium, against the complete service with
 * development tokens on and a webhook receiver (on 127.0.0.1) that refuses until the test lets it
 * take deliveries: the deliveries parked as dead are listed (event, call, receiver without its
 * query), one is replayed by its button and arrives, then the rest with "Replay all". A single
 * server says it runs alone. A user without the admin role sees the API's refusal.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { mintUserToken } from '../../src/cli.js';
import { startTestCallcast, type TestCallcast } from '../support/callcast.js';
import { launchChromium, type ChromiumSession } from '../support/chromium.js';
import { closeServer, listenOnLoopback } from '../support/http-server.js';
import { waitFor } from '../support/wait.js';
import { buildWebPages, screenshotPath, WEB_ROOT } from './harness.js';

const CALL_ID = 'ops-call';

class Receiver {
  status = 503;
  readonly ids: string[] = [];
  readonly server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (this.status === 200) this.ids.push(String(req.headers['x-webhook-id']));
      res.writeHead(this.status).end('{}');
    });
  });
}

describe('the console operations page in Chromium', { timeout: 240_000 }, () => {
  const rx = new Receiver();
  let svc: TestCallcast;
  let browser: ChromiumSession;
  let page: Page;

  before(async () => {
    const origin = await listenOnLoopback(rx.server);
    await buildWebPages();
    [svc, browser] = await Promise.all([
      startTestCallcast({
        config: { devTokens: true, webhookUrl: `${origin}/hooks?token=receiver-secret`, webhookRetryHorizonSeconds: 2 },
        webhookPolicy: { initialBackoffMs: 200, maxBackoffMs: 400 },
        webRoot: WEB_ROOT,
      }),
      launchChromium(),
    ]);
    await svc.client.upsertUsers([
      { id: 'operator', name: 'Operator', role: 'admin' },
      { id: 'viewer', name: 'Viewer', role: 'user' },
    ]);
    await svc.client.video.call('default', CALL_ID).getOrCreate({ data: { created_by_id: 'operator' } });
    await waitFor(
      async () => {
        const dead = await svc.server.store.webhookOutbox.listDead(100);
        return dead.length >= 3 && dead.some((d) => d.body.includes('"call.created"'));
      },
      'the users’ and the call’s deliveries to be parked',
      30_000,
    );
  });

  after(async () => {
    await browser?.close();
    await svc?.close();
    await closeServer(rx.server);
  });

  test('lists the dead deliveries and replays one, then all; a single server runs alone', async () => {
    const dead = await svc.server.store.webhookOutbox.listDead(100);
    page = await browser.newPage();
    await page.goto(`${svc.url}/console`);
    await page.getByRole('heading', { name: 'Calls' }).waitFor();
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Operations' }).click();
    assert.equal(new URL(page.url()).pathname, '/console/operations');
    await page.getByRole('heading', { name: 'Dead webhook deliveries' }).waitFor();
    const table = page.getByRole('table', { name: 'Dead webhook deliveries' });
    await waitFor(async () => (await table.locator('tbody tr').count()) === dead.length, 'every dead delivery listed', 15_000);
    assert.equal(await page.locator('#dead-summary').textContent(), `${dead.length} dead deliveries.`);
    const created = dead.find((d) => d.body.includes('"call.created"'))!;
    const row = table.locator(`tr[data-delivery="${created.id}"]`);
    const cells = await row.locator('td').allTextContents();
    assert.equal(cells[1], 'call.created');
    assert.equal(cells[2], `default:${CALL_ID}`);
    assert.match(cells[3] ?? '', /^http:\/\/127\.0\.0\.1:\d+\/hooks$/, 'the receiver without its query');
    assert.match(cells[5] ?? '', /retry horizon is spent/);
    assert.doesNotMatch(await page.content(), /receiver-secret/);
    assert.match((await page.locator('#cluster-summary').textContent()) ?? '', /runs alone \(cluster mode is off/);
    await page.screenshot({ path: screenshotPath('operations-01-dead'), fullPage: true });

    rx.status = 200;
    await row.getByRole('button', { name: 'Replay' }).click();
    await page.getByRole('status').filter({ hasText: '1 delivery queued again.' }).waitFor();
    await waitFor(() => rx.ids.includes(created.id), 'the replayed delivery at the receiver', 30_000);
    await waitFor(async () => (await row.count()) === 0, 'the replayed row to leave the list', 15_000);

    await page.getByRole('button', { name: 'Replay all' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `${dead.length - 1} deliveries queued again.` })
      .waitFor();
    await waitFor(() => dead.every((d) => rx.ids.includes(d.id)), 'every delivery at the receiver', 30_000);
    await waitFor(
      async () => (await page.locator('#dead-summary').textContent())?.startsWith('No dead deliveries') === true,
      'the empty list',
      15_000,
    );
    assert.equal(await page.getByRole('button', { name: 'Replay all' }).isVisible(), false);
    await page.screenshot({ path: screenshotPath('operations-02-replayed'), fullPage: true });
    assert.deepEqual(browser.errorsOf(page), [], 'console errors on the operations page');
  });

  test('a user without the admin role sees the refusal', async () => {
    const token = await mintUserToken(svc.apiSecret, { userId: 'viewer', ttlSeconds: 600 });
    const viewer = await browser.newPage();
    await viewer.goto(`${svc.url}/console/operations#token=${encodeURIComponent(token)}`);
    const refusal = viewer.getByRole('alert').filter({ hasText: 'needs a server token or a user with the admin role' });
    await refusal.first().waitFor();
    assert.equal(await refusal.count(), 2, 'both sections say why');
    await viewer.close();
  });
});
