/**
 * Figure 2, fan-out: service CPU with 5 destinations of the same quality and layout divided by
 * CPU with 1 (alternating 1 and 5 destinations on one running broadcast, so the pairs share the
 * same conditions), on a call with 4 participants publishing over WHIP, so that the group composes
 * and encodes a live picture. Also yields figure 6b, resident memory per added destination.
 */
import { FlvFollower } from '../lib/flv.js';
import { callWithPublishers } from '../lib/participants.js';
import { cpuWindows, sleep, startBroadcast, stopBroadcast, type FigureResult, type RunContext, type Timings } from '../lib/scenario.js';
import { median, pairedRatios, round, summarize } from '../lib/stats.js';

export async function fanOut(ctx: RunContext, t: Timings, pairs: number): Promise<FigureResult[]> {
  const joined = await callWithPublishers(ctx, 'fanout', 4);
  const { call } = joined;
  const first = new FlvFollower(ctx.ingest.recordingPath('fanout-0'), 20);
  const one: number[] = [];
  const five: number[] = [];
  const rssOne: number[] = [];
  const rssFive: number[] = [];
  const fpsOne: number[] = [];
  const fpsFive: number[] = [];
  try {
    await startBroadcast(call, 'd0', ctx.ingest.url(), 'fanout-0', '720p');
    await first.waitFrames(1, 20_000);
    await sleep(t.warmupS * 1000);
    for (let round_ = 0; round_ < pairs; round_++) {
      ctx.log(`figure 2: pair ${round_ + 1}/${pairs}, 1 destination`);
      let from = performance.now();
      const a = await cpuWindows(ctx.service.sample, { windowS: t.windowS, windows: 1 });
      fpsOne.push(first.framesBetween(from, performance.now()) / ((performance.now() - from) / 1000));
      one.push(a.cpuPerS[0]!);
      rssOne.push(a.rssBytes[0]!);
      const names = [1, 2, 3, 4].map((j) => `r${round_}-d${j}`);
      const followers = names.map((n) => new FlvFollower(ctx.ingest.recordingPath(`fanout-${n}`), 20));
      try {
        for (const n of names) await startBroadcast(call, n, ctx.ingest.url(), `fanout-${n}`, '720p');
        await Promise.all(followers.map((f) => f.waitFrames(1, 20_000)));
      } finally {
        for (const f of followers) f.close();
      }
      await sleep(Math.min(3, t.warmupS) * 1000);
      ctx.log(`figure 2: pair ${round_ + 1}/${pairs}, 5 destinations`);
      from = performance.now();
      const b = await cpuWindows(ctx.service.sample, { windowS: t.windowS, windows: 1 });
      fpsFive.push(first.framesBetween(from, performance.now()) / ((performance.now() - from) / 1000));
      five.push(b.cpuPerS[0]!);
      rssFive.push(b.rssBytes[0]!);
      for (const n of names) await stopBroadcast(call, n);
      await sleep(Math.min(3, t.warmupS) * 1000);
    }
    await stopBroadcast(call, 'd0');
  } finally {
    first.close();
    await joined.leave();
  }
  const ratios = pairedRatios(five, one);
  const slowest = Math.min(...fpsOne, ...fpsFive);
  const warnings =
    slowest < 29 ? [`the first destination received as few as ${round(slowest, 1)} fps during a window (not the full 30)`] : [];
  const s = summarize(ratios);
  const perDest = rssFive.map((x, i) => (x - rssOne[i]!) / 4 / 2 ** 20);
  const m = summarize(perDest);
  return [
    {
      id: 'fanout_5_vs_1',
      title: 'Fan-out: CPU with 5 destinations / with 1 (720p30, same layout, 4 WHIP participants)',
      value: round(s.median),
      unit: 'x',
      summary: { ...s, samples: s.samples.map((x) => round(x)) },
      target: '<= 1.03',
      met: s.median <= 1.03,
      against: `1 destination: ${round(median(one), 2)} cores; 5: ${round(median(five), 2)} cores`,
      method: `${pairs} pair(s) of ${t.windowS} s windows on one running broadcast of a call with 4 WHIP participants: 1 destination, then 4 more joined (all to nginx-rtmp), then back to 1; ratio per pair`,
      ...(warnings.length ? { warnings } : {}),
      details: {
        oneDestinationCores: one.map((x) => round(x)),
        fiveDestinationsCores: five.map((x) => round(x)),
        firstDestinationFps: { one: fpsOne.map((x) => round(x, 1)), five: fpsFive.map((x) => round(x, 1)) },
      },
    },
    {
      id: 'memory_per_destination',
      title: 'Memory per extra destination (service RSS, 5 vs 1 destinations / 4)',
      value: round(m.median, 1),
      unit: 'MiB',
      summary: { ...m, samples: m.samples.map((x) => round(x, 1)) },
      met: null,
      against: `1 destination: ${Math.round(median(rssOne) / 2 ** 20)} MiB`,
      method:
        'resident memory of the service tree (Node + ffmpeg, VmRSS; median of one reading a second over each window) with 5 destinations minus that with 1, divided by 4',
      details: {
        rssOneMiB: rssOne.map((x) => round(x / 2 ** 20, 1)),
        rssFiveMiB: rssFive.map((x) => round(x / 2 ** 20, 1)),
        medianOneMiB: round(median(rssOne) / 2 ** 20, 1),
      },
    },
  ];
}
