/**
 * What operators see, against the complete service (`callcast serve`'s assembly: real egress,
 * ffmpeg, an nginx-rtmp ingest): log lines for an encoder crash and for a reconnect after the
 * ingest restarts, without the stream key; per-group dropped-frame and real-time figures in
 * /metrics; /metrics behind CALLCAST_METRICS_TOKEN.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { startTestCallcast, type TestCallcast } from '../support/callcast.js';
import { startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';
import { waitFor } from '../support/wait.js';

const METRICS_TOKEN = 'metrics-token-4b9d2e7f0a';
const STREAM_KEY = 'opskey';

describe('operations: logs and metrics', () => {
  let cc: TestCallcast;
  let ingest: NginxIngest;
  let output = '';
  const lines = () =>
    output
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  before(async () => {
    ingest = await startNginxIngest({ allowedKeys: [STREAM_KEY] });
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        output += chunk.toString();
        cb();
      },
    });
    cc = await startTestCallcast({
      log: createLogger('info', sink),
      config: { metricsToken: METRICS_TOKEN },
      egress: { retry: { initialDelayMs: 200, maxDelayMs: 1_000 } },
    });
  });
  after(async () => {
    await cc?.close();
    await ingest?.stop();
  });

  async function metrics(token?: string): Promise<{ status: number; text: string }> {
    const res = await fetch(`${cc.url}/metrics`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, text: await res.text() };
  }

  it('protects /metrics with the token', async () => {
    assert.equal((await metrics()).status, 401);
    assert.equal((await metrics('wrong-token-xxxxxxxxx')).status, 401);
    const ok = await metrics(METRICS_TOKEN);
    assert.equal(ok.status, 200);
    assert.match(ok.text, /callcast_broadcast_groups 0/);
  });

  it('logs an encoder crash and a reconnect, and shows per-group figures', async (t) => {
    const call = cc.client.video.call('default', 'ops');
    await call.getOrCreate({ data: { created_by_id: 'operator' } });
    await call.startRTMPBroadcasts({
      broadcasts: [{ name: 'main', stream_url: ingest.url(), stream_key: STREAM_KEY, quality: '360p' } as never],
    });
    const egress = cc.server.egress;
    await waitFor(() => egress.stats('default:ops')[0]?.state === 'live', 'live', 30_000);

    const group = egress.groupOf('default:ops', 'main')!;
    const pid = group.encoderPid!;
    group.killEncoder();
    await waitFor(
      () => lines().find((l) => l.msg === 'encoder exited; restarting it' && l.callCid === 'default:ops'),
      'encoder crash logged',
      20_000,
    );
    await waitFor(() => group.encoderPid !== undefined && group.encoderPid !== pid, 'encoder restarted', 20_000);

    await ingest.restart();
    const lost = await waitFor(
      () => lines().find((l) => l.msg === 'broadcast destination lost its session; reconnecting'),
      'session loss logged',
      30_000,
    );
    assert.equal(lost.name, 'main');
    await waitFor(
      () => egress.stats('default:ops')[0]?.state === 'live' && egress.stats('default:ops')[0]!.reconnects >= 1,
      'reconnected',
      60_000,
    );
    assert.ok(
      lines().some((l) => l.msg === 'broadcast destination publishing' && typeof l.target === 'string'),
      'publishing logged with its target',
    );

    const m = await waitFor(
      async () => {
        const r = await metrics(METRICS_TOKEN);
        return /callcast_group_realtime_ratio\{[^}]*call_cid="default:ops"[^}]*\} [\d.]+/.test(r.text) ? r.text : null;
      },
      'group figures in /metrics',
      30_000,
    );
    for (const name of [
      'callcast_group_ticks_total',
      'callcast_group_skipped_ticks_total',
      'callcast_group_dropped_frames_total',
      'callcast_group_degraded',
      'callcast_group_encoder_restarts_total',
    ]) {
      assert.match(m, new RegExp(`${name}\\{call_cid="default:ops",quality="360p",layout="spotlight",group="[0-9a-f]{12}"\\} \\d`), name);
    }
    assert.match(m, /callcast_group_encoder_restarts_total\{[^}]*\} 1\n/);
    t.diagnostic(
      m
        .split('\n')
        .filter((l) => l.startsWith('callcast_group_'))
        .join('\n'),
    );

    await call.stopAllRTMPBroadcasts();
    await waitFor(() => egress.groupCount() === 0, 'group closed', 20_000);
    assert.ok(!output.includes(STREAM_KEY), 'stream key in logs');
    assert.ok(!output.includes(cc.apiSecret), 'API secret in logs');
  });
});
