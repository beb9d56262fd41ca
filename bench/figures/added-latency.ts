/**
 * Figure 4, added latency: from a participant's frame leaving it to the same frame arriving at
 * the ingest. The participant (FlashPublisher, a separate WHIP peer) flashes white on black and
 * logs when each flash frame goes to its VP8 encoder; the ingest (FlashObserver, ffmpeg -listen
 * decoding on arrival) notes when the centre of the broadcast picture turns bright. Same machine,
 * same clock.
 */
import { FlashObserver, matchFlashes } from '../lib/flash-observer.js';
import { FlashPublisher } from '../lib/flash-publisher.js';
import {
  createCall,
  notMeasured,
  sleep,
  startBroadcast,
  stopBroadcast,
  whipLeave,
  type FigureResult,
  type RunContext,
} from '../lib/scenario.js';
import { round, summarize } from '../lib/stats.js';

const ID = 'added_latency';
const TITLE = 'Added latency: participant frame to ingest (720p30 spotlight)';

export async function addedLatency(ctx: RunContext, flashes: number, periodMs: number): Promise<FigureResult[]> {
  const method = `a WHIP participant flashes white every ${periodMs} ms (frame handed to its VP8 encoder = send time); an ffmpeg -listen ingest decodes the broadcast single-threaded on arrival and timestamps the centre turning bright; ${flashes} flash(es); includes the participant's own VP8 encode and the observer's H.264 decode (a few ms each)`;
  if (!ctx.service.media.composited) {
    return [notMeasured(ID, TITLE, 'ms', method, ctx.service.media.reason ?? 'no media plane', 'median < 400')];
  }
  const call = await createCall(ctx.service.client, 'latency', ['flash']);
  const observer = await FlashObserver.start();
  let publisher: FlashPublisher | undefined;
  try {
    const token = ctx.service.client.generateUserToken({ user_id: 'flash', validity_in_seconds: 3600 });
    publisher = await FlashPublisher.start({ url: ctx.service.whipUrl('default', 'latency'), token, periodMs });
    await startBroadcast(call, 'main', observer.appUrl, observer.streamName, '720p');
    const deadline = performance.now() + 20_000;
    while (observer.frames < 30 && performance.now() < deadline) await sleep(100);
    if (observer.frames < 30) throw new Error(`the ingest decoded ${observer.frames} frame(s) in 20 s`);
    const from = performance.now();
    await sleep(flashes * periodMs + 1000);
    const sent = publisher.flashTimes.filter((t) => t >= from);
    const delays = matchFlashes(sent, observer.edges, periodMs);
    await stopBroadcast(call, 'main').catch(() => undefined);
    if (delays.length === 0) {
      return [
        notMeasured(
          ID,
          TITLE,
          'ms',
          method,
          `none of ${sent.length} flashes was seen at the ingest within ${periodMs} ms (${observer.edges.length} bright edges seen)`,
          'median < 400',
        ),
      ];
    }
    const s = summarize(delays);
    return [
      {
        id: ID,
        title: TITLE,
        value: round(s.median, 1),
        unit: 'ms',
        summary: { ...s, samples: s.samples.map((x) => round(x, 1)) },
        target: 'median < 400',
        met: s.median < 400,
        method,
        details: { flashesSent: sent.length, flashesSeen: delays.length, p95Ms: round(s.p95, 1) },
      },
    ];
  } catch (err) {
    return [notMeasured(ID, TITLE, 'ms', method, `the measurement failed: ${(err as Error).message}`, 'median < 400')];
  } finally {
    await whipLeave(ctx, publisher?.location);
    await publisher?.close();
    await observer.stop();
  }
}
