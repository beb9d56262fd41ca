/**
 * Forwarding: service CPU for a 4-person call where everyone sees everyone (12 WHEP subscriptions,
 * each with video and audio: 24 forwarded streams) against the same call with nobody subscribed,
 * per forwarded stream. Windows alternate (nobody, everyone) on the same running call so the pairs
 * share the same conditions. The publishers' ffmpeg and the subscribers' peers run in the bench
 * process, outside the service's process tree.
 */
import { TestPublisher } from '../../test/support/publisher.js';
import { TestSubscriber } from '../../test/support/subscriber.js';
import { cpuWindows, createCall, sleep, waitQuiet, whipLeave, type FigureResult, type RunContext, type Timings } from '../lib/scenario.js';
import { median, round, summarize } from '../lib/stats.js';

const PARTICIPANTS = 4;
const COLOURS = ['red', 'green', 'blue', 'yellow'];

export async function forwarding(ctx: RunContext, t: Timings, pairs: number): Promise<FigureResult[]> {
  const { service } = ctx;
  const tag = 'forwarding';
  const members = Array.from({ length: PARTICIPANTS }, (_, i) => `${tag}-p${i}`);
  const call = await createCall(service.client, tag, members);
  const tokens = members.map((m) => service.client.generateUserToken({ user_id: m, validity_in_seconds: 3600 }));
  const publishers: TestPublisher[] = [];
  const none: number[] = [];
  const all: number[] = [];
  const frames: number[] = [];
  try {
    for (let i = 0; i < PARTICIPANTS; i++) {
      publishers.push(
        await TestPublisher.start({
          url: service.whipUrl('default', tag),
          token: tokens[i]!,
          color: COLOURS[i]!,
          size: { width: 640, height: 360 },
          toneHz: 300 + 100 * i,
        }),
      );
    }
    const sessions = await waitForSessions(call, members, 20_000);
    const whepUrl = (sessionId: string) =>
      `${service.url}/api/v2/video/call/default/${tag}/participants/${encodeURIComponent(sessionId)}/whep?api_key=${service.apiKey}`;
    await sleep(t.warmupS * 1000);
    for (let p = 0; p < pairs; p++) {
      ctx.log(`forwarding: pair ${p + 1}/${pairs}, nobody subscribed`);
      none.push((await cpuWindows(service.sample, { windowS: t.windowS, windows: 1 })).cpuPerS[0]!);
      const subscribers: TestSubscriber[] = [];
      try {
        for (let i = 0; i < PARTICIPANTS; i++) {
          for (let j = 0; j < PARTICIPANTS; j++) {
            if (i === j) continue;
            subscribers.push(await TestSubscriber.start({ url: whepUrl(sessions.get(members[j]!)!), token: tokens[i]!, decode: false }));
          }
        }
        await sleep(Math.min(3, t.warmupS) * 1000);
        ctx.log(`forwarding: pair ${p + 1}/${pairs}, everyone sees everyone (${subscribers.length} subscriptions)`);
        const before = subscribers.map((s) => s.stats.packets.video);
        const from = performance.now();
        all.push((await cpuWindows(service.sample, { windowS: t.windowS, windows: 1 })).cpuPerS[0]!);
        const seconds = (performance.now() - from) / 1000;
        frames.push(median(subscribers.map((s, k) => (s.stats.packets.video - before[k]!) / seconds)));
      } finally {
        for (const s of subscribers) await s.close();
      }
      await sleep(Math.min(3, t.warmupS) * 1000);
    }
  } finally {
    for (const p of publishers) {
      await whipLeave(ctx, p.location);
      await p.close();
    }
    await waitQuiet(ctx);
  }
  const streams = PARTICIPANTS * (PARTICIPANTS - 1) * 2;
  const perStream = all.map((x, i) => ((x - none[i]!) / streams) * 1000);
  const s = summarize(perStream);
  return [
    {
      id: 'forwarding_per_stream',
      title: 'Forwarding: service CPU per forwarded stream (4-person call, everyone sees everyone, vs nobody subscribed)',
      value: round(s.median, 1),
      unit: 'millicores',
      summary: { ...s, samples: s.samples.map((x) => round(x, 1)) },
      met: null,
      against: `nobody subscribed: ${round(median(none), 2)} cores; everyone sees everyone: ${round(median(all), 2)} cores`,
      method: `${pairs} pair(s) of ${t.windowS} s windows on one running call of ${PARTICIPANTS} WHIP publishers (VP8 640x360 + Opus): nobody subscribed, then ${PARTICIPANTS * (PARTICIPANTS - 1)} WHEP subscriptions (${streams} streams); (difference / ${streams}) per pair`,
      details: {
        nobodyCores: none.map((x) => round(x)),
        everyoneCores: all.map((x) => round(x)),
        videoPacketsPerSecondPerSubscription: frames.map((x) => round(x, 1)),
      },
    },
  ];
}

async function waitForSessions(
  call: ReturnType<RunContext['service']['client']['video']['call']>,
  members: string[],
  timeoutMs: number,
): Promise<Map<string, string>> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const res = (await call.get()) as unknown as {
      call: { session?: { participants?: Array<{ user_session_id: string; user: { id: string } }> } | null };
    };
    const map = new Map((res.call.session?.participants ?? []).map((p) => [p.user.id, p.user_session_id] as const));
    if (members.every((m) => map.has(m))) return map;
    if (performance.now() > until) throw new Error(`the call session lists ${map.size} of ${members.length} publishers`);
    await sleep(250);
  }
}
