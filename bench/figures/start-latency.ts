/**
 * Figure 3, start latency: from sending the start request (the API call through the SDK) to the
 * first coded video frame written by the local ingest (nginx-rtmp's recording, read every 2 ms).
 * Each start is cold: the previous broadcast was stopped, so its encoder is gone.
 */
import { startBaseline } from '../lib/baseline.js';
import { FlvFollower } from '../lib/flv.js';
import { createCall, sleep, startBroadcast, stopBroadcast, waitQuiet, type FigureResult, type RunContext } from '../lib/scenario.js';
import { round, summarize } from '../lib/stats.js';

export async function startLatency(ctx: RunContext, starts: number): Promise<FigureResult[]> {
  const call = await createCall(ctx.service.client, 'starts');
  const latencies: number[] = [];
  const apiTimes: number[] = [];
  for (let i = 0; i < starts; i++) {
    const key = `start-${i}`;
    const follower = new FlvFollower(ctx.ingest.recordingPath(key), 2);
    try {
      const t0 = performance.now();
      await startBroadcast(call, key, ctx.ingest.url(), key, '720p');
      apiTimes.push(performance.now() - t0);
      await follower.waitFrames(1, 20_000);
      latencies.push(follower.frameTimes[0]! - t0);
    } finally {
      follower.close();
    }
    await stopBroadcast(call, key);
    // Let the group close and its encoder exit, so the next start is cold.
    await waitQuiet(ctx, 10_000);
    await sleep(300);
  }
  // Baseline: ffmpeg alone, from spawning it to its first frame at the same ingest.
  const bare: number[] = [];
  for (let i = 0; i < starts; i++) {
    const key = `bare-start-${i}`;
    const follower = new FlvFollower(ctx.ingest.recordingPath(key), 2);
    const t0 = performance.now();
    const enc = startBaseline('720p', `${ctx.ingest.url()}/${key}`);
    try {
      await follower.waitFrames(1, 20_000);
      bare.push(follower.frameTimes[0]! - t0);
    } finally {
      follower.close();
      await enc.stop();
    }
  }
  const s = summarize(latencies);
  const a = summarize(apiTimes);
  const b = summarize(bare);
  return [
    {
      id: 'start_latency',
      title: 'Start latency: request to first video frame at the ingest (720p30, cold)',
      value: round(s.median, 1),
      unit: 'ms',
      summary: { ...s, samples: s.samples.map((x) => round(x, 1)) },
      target: 'median < 1000',
      met: s.median < 1000,
      against: `ffmpeg alone, spawn to first frame: ${Math.round(b.median)} ms`,
      method: `${starts} start(s): time from sending StartRTMPBroadcasts (SDK) to the first coded video tag in nginx-rtmp's recording (file polled every 2 ms, so up to ~2 ms late); each broadcast stopped before the next start; baseline: ffmpeg alone (testsrc2, the egress's encoder settings) from spawn to its first frame at the same ingest, as many times`,
      details: {
        p95Ms: round(s.p95, 1),
        bareFfmpegStartMs: { median: round(b.median, 1), p95: round(b.p95, 1), samples: b.samples.map((x) => round(x, 1)) },
        ratioToBareFfmpegStart: round(s.median / b.median, 2),
        apiResponseMs: { median: round(a.median, 1), p95: round(a.p95, 1), samples: a.samples.map((x) => round(x, 1)) },
      },
    },
  ];
}
