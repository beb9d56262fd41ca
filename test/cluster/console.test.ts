/**
 * The console's operations page on a cluster node, in Debian's Chromium: two nodes (in this
 * process) over one PostgreSQL schema and one Redis; signed in as an admin user, the page lists
 * both live nodes with their load and calls, names the node that answered, and drops a node
 * stopped as SIGTERM does once it has left. Needs PostgreSQL: skipped with a message elsewhere.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mintUserToken } from '../../src/cli.js';
import { launchChromium, type ChromiumSession } from '../support/chromium.js';
import { clusterSkipReason, startTestCluster, type TestCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';
import { buildWebPages, screenshotPath, WEB_ROOT } from '../web/harness.js';

const skip = clusterSkipReason();

describe('the console operations page on a cluster', { skip, timeout: 180_000 }, () => {
  let cluster: TestCluster;
  let browser: ChromiumSession;

  before(async () => {
    await buildWebPages();
    [cluster, browser] = await Promise.all([startTestCluster({ nodes: ['node-a', 'node-b'], webRoot: WEB_ROOT }), launchChromium()]);
  });

  after(async () => {
    await browser?.close();
    await cluster?.close();
  });

  it('lists the live nodes with their load, and drops a node that drained', async () => {
    const [a, b] = cluster.nodes as [TestCluster['nodes'][0], TestCluster['nodes'][0]];
    await a.client.upsertUsers([{ id: 'operator', name: 'Operator', role: 'admin' }]);
    const token = await mintUserToken(cluster.apiSecret, { userId: 'operator', ttlSeconds: 600 });
    const page = await browser.newPage();
    await page.goto(`${a.url}/console/operations#token=${encodeURIComponent(token)}`);
    const table = page.getByRole('table', { name: 'Cluster' });
    await waitFor(async () => (await table.locator('tbody tr').count()) === 2, 'both nodes listed', 30_000, 200);
    assert.equal(await page.locator('#cluster-summary').textContent(), '2 live nodes, as node-a sees them.');
    const cells = async (id: string) => table.locator(`tr[data-node="${id}"] td`).allTextContents();
    const rowA = await cells('node-a');
    const rowB = await cells('node-b');
    assert.equal(rowA[0], 'node-a (this node)');
    assert.equal(rowA[1], a.url);
    assert.equal(rowB[0], 'node-b');
    assert.equal(rowB[1], b.url);
    for (const row of [rowA, rowB]) {
      assert.match(row[2] ?? '', /^(\d+%|not measured yet)$/, `CPU: ${row[2]}`);
      assert.equal(row[3], '0', 'no encodes');
      assert.equal(row[6], 'taking calls');
    }
    await page.screenshot({ path: screenshotPath('operations-cluster-01'), fullPage: true });

    await b.stop();
    await waitFor(async () => (await table.locator('tbody tr').count()) === 1, 'the drained node to leave the list', 30_000, 200);
    assert.equal(await page.locator('#cluster-summary').textContent(), '1 live node, as node-a sees them.');
    assert.deepEqual(browser.errorsOf(page), [], 'console errors on the operations page');
  });
});
