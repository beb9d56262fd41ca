/**
 * Admission of new encodes against the complete service (real egress, ffmpeg, an nginx-rtmp
 * ingest, the node SDK): a user's broadcasts may create at most CALLCAST_MAX_GROUPS_PER_USER
 * groups (429, code 9), joining a running group is always admitted; an encoder frozen with
 * SIGSTOP (a process this test's service started) drives its group behind real time: `degraded`
 * shows in the broadcast's stats, in /metrics and in the log, a broadcast that needs a new group
 * is refused (503, code -1, Retry-After) while one that joins the running group is admitted, and
 * all of it clears once the encoder runs again and the group catches up.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { startTestCallcast, type TestCallcast } from '../support/callcast.js';
import { RecordingLogger, recordingDestination } from '../support/log.js';
import { startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';
import { rawRequest } from '../support/server.js';
import { waitFor } from '../support/wait.js';

const KEY = 'admkey';
const CID = 'default:adm';

describe('admission of new encodes', { timeout: 280_000 }, () => {
  let cc: TestCallcast;
  let ingest: NginxIngest;
  const log = new RecordingLogger();
  let frozen: number | undefined;

  before(async () => {
    ingest = await startNginxIngest();
    cc = await startTestCallcast({
      log: createLogger('info', recordingDestination(log)),
      // The CPU figure is not checked here: this machine is shared with other runs.
      config: { admissionDegraded: true, admissionCpuPercent: 0, maxGroupsPerUser: 1 },
      egress: { retry: { initialDelayMs: 200, maxDelayMs: 1_000 } },
    });
    await cc.client.video.call('default', 'adm').getOrCreate({
      data: { created_by_id: 'owner', members: [{ user_id: 'ada', role: 'host' }] },
    });
  });
  after(async () => {
    if (frozen !== undefined) {
      try {
        process.kill(frozen, 'SIGCONT');
      } catch {
        // already gone
      }
    }
    await cc?.close();
    await ingest?.stop();
  });

  const broadcast = (name: string, quality: string) => ({
    broadcasts: [{ name, stream_url: ingest.url(), stream_key: `${KEY}-${name}`, quality } as never],
  });
  const adaStarts = (name: string, quality: string) =>
    rawRequest(cc, 'POST', '/api/v2/video/call/default/adm/rtmp_broadcasts', {
      token: cc.client.generateUserToken({ user_id: 'ada' }),
      body: broadcast(name, quality),
    });
  const details = async (name: string) => {
    const res = await rawRequest(cc, 'GET', `/api/v2/video/call/default/adm/rtmp_broadcasts/${name}`, {
      token: cc.client.generateUserToken({ user_id: 'ada' }),
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.broadcast as { stats: { state: string; degraded?: boolean } | null };
  };
  const metrics = async () => (await (await fetch(`${cc.url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text()) as string;
  const groupLine = (m: string, name: string) => m.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes('quality="360p"'));

  it('bounds the groups a user creates; joining a running group is admitted', async (t) => {
    const call = cc.client.video.call('default', 'adm');
    await call.startRTMPBroadcasts(broadcast('main', '360p'));
    const egress = cc.server.egress;
    await waitFor(() => egress.stats(CID).find((s) => s.name === 'main')?.state === 'live', 'main live', 60_000);

    const first = await adaStarts('ada-480', '480p');
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(egress.groupsCreatedBy('ada'), 1);
    const second = await adaStarts('ada-720', '720p');
    t.diagnostic(`ada's second group: ${second.status} ${JSON.stringify(second.body)}`);
    assert.equal(second.status, 429);
    assert.equal(second.body.code, 9);
    assert.equal(second.body.StatusCode, 429);
    assert.match(
      second.body.message,
      /StartRTMPBroadcasts failed with error: "user "ada" already runs 1 broadcast encodes \(the limit is 1\)/,
    );
    const joins = await adaStarts('ada-360', '360p');
    assert.equal(joins.status, 201, 'joining the running 360p group costs no encode');
    assert.equal(egress.groupOf(CID, 'ada-360'), egress.groupOf(CID, 'main'));
    assert.ok(!(await call.get()).call.egress.rtmps.some((r) => r.name === 'ada-720'), 'the refused broadcast is not active');

    await call.stopRTMPBroadcast({ name: 'ada-480' });
    await call.stopRTMPBroadcast({ name: 'ada-360' });
    await waitFor(() => egress.groupCount() === 1, 'back to one group', 20_000);
    assert.equal(egress.groupsCreatedBy('ada'), 0);
  });

  it('refuses a new group while one is degraded, admits a join, and clears when it catches up', async (t) => {
    const call = cc.client.video.call('default', 'adm');
    const egress = cc.server.egress;
    const group = egress.groupOf(CID, 'main')!;
    const ratioBefore = await waitFor(() => group.health().realtimeRatio, 'a real-time figure', 30_000);
    t.diagnostic(`real-time ratio before: ${ratioBefore.toFixed(3)}, degraded: ${group.degraded}`);
    await waitFor(() => !group.degraded || null, 'not degraded before the freeze', 60_000);

    const pids = egress.encoderPids();
    assert.equal(pids.length, 1);
    frozen = pids[0]!;
    const frozenAt = Date.now();
    process.kill(frozen, 'SIGSTOP');
    await waitFor(() => group.degraded || null, 'group degraded', 60_000);
    t.diagnostic(`degraded ${Date.now() - frozenAt} ms after SIGSTOP (ratio ${group.health().realtimeRatio?.toFixed(3)})`);

    assert.equal((await details('main')).stats?.degraded, true, "the broadcast's stats say degraded");
    const m = await metrics();
    assert.match(groupLine(m, 'callcast_group_degraded') ?? '', / 1$/);
    assert.match(m, /\ncallcast_broadcast_groups_degraded 1\n/);
    const warned = log.lines.find((l) => l.level === 'warn' && l.text.includes('broadcast group falls behind real time (degraded)'));
    assert.ok(warned, 'the degraded state is logged');
    assert.match(warned.text, /"callCid":"default:adm"/);
    assert.match(warned.text, /"quality":"360p"/);

    // A new group (720p) is refused with Stream's error shape; the SDK sees it.
    const refused = await call.startRTMPBroadcasts(broadcast('hd', '720p')).then(
      () => null,
      (err: { code?: number; message: string; metadata?: { responseCode?: number; responseHeaders?: Headers } }) => err,
    );
    assert.ok(refused, 'the new group is refused');
    t.diagnostic(`refused: ${refused.message}`);
    assert.equal(refused.code, -1);
    assert.equal(refused.metadata?.responseCode, 503);
    assert.equal(refused.metadata?.responseHeaders?.get('retry-after'), '10');
    assert.match(
      refused.message,
      /StartRTMPBroadcasts failed with error: "the server is at capacity: 1 running broadcast encode is behind real time \(default:adm 360p/,
    );
    assert.equal(egress.groupCount(), 1, 'no encode was started');
    assert.ok(!(await call.get()).call.egress.rtmps.some((r) => r.name === 'hd'));
    const refusedLine = log.lines.findLast((l) => l.text.includes('new broadcast group refused'));
    assert.ok(refusedLine);
    assert.match(refusedLine.text, /"reason":"degraded"/);
    assert.ok(!log.text().includes(`${KEY}-hd`), 'no stream key in the log');

    // Joining the running group costs no encode: admitted.
    await call.startRTMPBroadcasts(broadcast('second', '360p'));
    assert.equal(egress.groupOf(CID, 'second'), group);

    process.kill(frozen, 'SIGCONT');
    const resumedAt = Date.now();
    frozen = undefined;
    await waitFor(() => !group.degraded || null, 'group back to real time', 90_000);
    t.diagnostic(`recovered ${Date.now() - resumedAt} ms after SIGCONT (ratio ${group.health().realtimeRatio?.toFixed(3)})`);
    assert.ok(log.lines.some((l) => l.level === 'info' && l.text.includes('broadcast group back to real time')));
    assert.notEqual((await details('main')).stats?.degraded, true);
    const after = await metrics();
    assert.match(groupLine(after, 'callcast_group_degraded') ?? '', / 0$/);
    assert.match(after, /\ncallcast_broadcast_groups_degraded 0\n/);
    await waitFor(() => egress.stats(CID).find((s) => s.name === 'second')?.state === 'live', 'second live', 60_000);

    // With the group caught up, a new group is admitted again.
    await call.startRTMPBroadcasts(broadcast('hd', '720p'));
    assert.equal(egress.groupCount(), 2);
    await call.stopAllRTMPBroadcasts();
    await waitFor(() => egress.groupCount() === 0, 'groups closed', 30_000);
  });
});
