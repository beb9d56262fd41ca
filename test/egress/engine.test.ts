/**
 * The engine with real ffmpeg encoders, fanning out to in-memory publish sessions (the RTMP
 * sessions themselves are exercised against real servers in ingest.test.ts). Checks what each
 * session receives: join order, shared encodes, encoder restarts, slow and failing sessions, stop.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { PublishSession } from '../../src/egress/destination.js';
import { EgressEngine } from '../../src/egress/engine.js';
import type { FlvTag } from '../../src/flv/tag.js';
import { renderMetrics } from '../../src/egress/metrics.js';
import type { OpenedTarget } from '../../src/egress/rtmp-session.js';
import { sleep, waitFor } from '../support/wait.js';
import { RecordingLogger } from '../support/log.js';
import { RecordingListener, ffmpegChildren, layout } from './helpers.js';

interface SentTag {
  type: FlvTag['type'];
  ts: number;
  keyframe: boolean;
  seq: boolean;
  size: number;
}

class MemorySession implements PublishSession {
  readonly sent: SentTag[] = [];
  bytesSent = 0;
  closed = false;
  private closeListeners: Array<(err: Error | null) => void> = [];
  constructor(
    readonly url: string,
    private readonly behaviour: MemoryTargetBehaviour,
  ) {}
  async connect(): Promise<void> {
    await sleep(5);
    if (this.behaviour.refuse) throw Object.assign(new Error('publish refused: NetStream.Publish.BadName'), { code: 'BADNAME' });
  }
  sendTag(tag: FlvTag, timestamp: number): boolean {
    if (this.closed) return false;
    this.sent.push({ type: tag.type, ts: timestamp, keyframe: tag.keyframe, seq: tag.sequenceHeader, size: tag.data.length });
    this.bytesSent += tag.data.length + 11;
    this.lastSendAt = Date.now();
    return true;
  }
  /** A slow server: after each send the socket stays backed up (beyond the bound) for half a second. */
  get backedUp(): boolean {
    return this.behaviour.slow === true && Date.now() - this.lastSendAt < 500;
  }
  private lastSendAt = 0;
  async close(): Promise<void> {
    this.closed = true;
  }
  on(_event: 'close', listener: (err: Error | null) => void): this {
    this.closeListeners.push(listener);
    return this;
  }
  /** The server went away. */
  drop(): void {
    this.closed = true;
    for (const l of this.closeListeners) l(Object.assign(new Error('connection reset'), { code: 'CLOSED' }));
  }
}

interface MemoryTargetBehaviour {
  refuse?: boolean;
  slow?: boolean;
}

class MemoryTargets {
  readonly sessions = new Map<string, MemorySession[]>();
  readonly behaviour = new Map<string, MemoryTargetBehaviour>();
  open = (streamUrl: string, streamKey: string): OpenedTarget => {
    const url = `${streamUrl}/${streamKey}`;
    return {
      describe: `${streamUrl}/<key>`,
      createSession: () => {
        const s = new MemorySession(url, this.behaviour.get(url) ?? {});
        const list = this.sessions.get(url) ?? [];
        list.push(s);
        this.sessions.set(url, list);
        return s;
      },
    };
  };
  all(url: string): MemorySession[] {
    return this.sessions.get(url) ?? [];
  }
  last(url: string): MemorySession {
    const s = this.all(url).at(-1);
    assert.ok(s, `no session for ${url}`);
    return s;
  }
}

function videoFrames(s: MemorySession): SentTag[] {
  return s.sent.filter((t) => t.type === 'video' && !t.seq);
}

function assertMonotonic(tags: SentTag[]): void {
  for (let i = 1; i < tags.length; i++) {
    assert.ok(tags[i]!.ts >= tags[i - 1]!.ts, `timestamp went back at ${i}: ${tags[i - 1]!.ts} -> ${tags[i]!.ts}`);
  }
}

/** A session's stream opens with metadata, AVC and AAC sequence headers, then a video keyframe. */
function assertJoinOrder(s: MemorySession): void {
  const firstMedia = s.sent.findIndex((t) => !t.seq && t.type !== 'script');
  assert.ok(firstMedia >= 0, 'no media sent');
  const head = s.sent.slice(0, firstMedia);
  assert.deepEqual(
    head.map((t) => `${t.type}${t.seq ? ':seq' : ''}`),
    ['script', 'video:seq', 'audio:seq'],
  );
  const first = s.sent[firstMedia]!;
  assert.equal(first.type, 'video');
  assert.ok(first.keyframe, 'first media tag is a keyframe');
}

describe('egress engine (real encoders, in-memory sessions)', () => {
  const listener = new RecordingListener();
  const log = new RecordingLogger();
  const targets = new MemoryTargets();
  const engine = new EgressEngine({
    listener,
    log,
    openTarget: targets.open,
    retry: { initialDelayMs: 100, maxDelayMs: 400, giveUpAfterMs: 2000 },
  });
  after(async () => {
    await engine.close();
    assert.deepEqual(ffmpegChildren(), [], 'no encoder left behind');
  });

  it('shares one encode per (call, quality, layout) and joins late destinations at a keyframe', async () => {
    engine.start({ callCid: 'default:share', name: 'a', streamUrl: 'rtmp://a/live', streamKey: 'ka', quality: '360p', layout: layout() });
    await listener.waitFor('started', 'a');
    const a = targets.last('rtmp://a/live/ka');
    assertJoinOrder(a);
    assert.equal(engine.encoderCount(), 1);

    // Joining a running encode: no second encoder, headers from the cache, starts at a keyframe.
    await sleep(1500);
    engine.start({ callCid: 'default:share', name: 'b', streamUrl: 'rtmp://b/live', streamKey: 'kb', quality: '360p', layout: layout() });
    await listener.waitFor('started', 'b');
    const b = targets.last('rtmp://b/live/kb');
    assertJoinOrder(b);
    assert.equal(b.sent.find((t) => !t.seq && t.type !== 'script')!.ts, 0, 'a new session starts at 0');
    assert.equal(engine.encoderCount(), 1);
    assert.equal(ffmpegChildren().length, 1);

    // Same call, another quality: a second encode.
    engine.start({
      callCid: 'default:share',
      name: 'c',
      streamUrl: 'rtmp://c/live',
      streamKey: 'kc',
      quality: 'portrait-360x640',
      layout: layout(),
    });
    await listener.waitFor('started', 'c');
    assert.equal(engine.encoderCount(), 2);
    assert.equal(ffmpegChildren().length, 2);
    // Same quality, another layout: a third.
    engine.start({
      callCid: 'default:share',
      name: 'd',
      streamUrl: 'rtmp://d/live',
      streamKey: 'kd',
      quality: '360p',
      layout: layout({ 'layout.background_color': '#ff0000' }),
    });
    await listener.waitFor('started', 'd');
    assert.equal(engine.encoderCount(), 3);
    assert.equal(ffmpegChildren().length, 3);

    await sleep(1000);
    const stats = engine.stats('default:share');
    assert.deepEqual(stats.map((s) => s.name).sort(), ['a', 'b', 'c', 'd']);
    for (const s of stats) {
      assert.equal(s.state, 'live');
      assert.ok(s.bytesSent > 0 && s.videoFramesSent > 0 && s.audioFramesSent > 0, JSON.stringify(s));
      assert.ok(s.liveSince);
    }
    assertMonotonic(a.sent);
    assertMonotonic(b.sent);
    // Keyframes every 60 frames (2 s at 30 fps) in what a destination received.
    const frames = videoFrames(a);
    const keyIdx = frames.flatMap((t, i) => (t.keyframe ? [i] : []));
    assert.ok(keyIdx.length >= 2);
    for (let i = 1; i < keyIdx.length; i++) assert.equal(keyIdx[i]! - keyIdx[i - 1]!, 60);

    const metrics = renderMetrics(engine);
    assert.match(metrics, /callcast_encoder_processes 3/);
    assert.match(metrics, /callcast_broadcast_up\{call_cid="default:share",name="a",quality="360p"\} 1/);
    assert.match(metrics, /callcast_broadcast_bytes_sent_total\{call_cid="default:share",name="b",quality="360p"\} \d+/);

    // Stopping one destination touches nothing else; the group lives on while it has members.
    await engine.stop('default:share', 'a');
    await listener.waitFor('stopped', 'a');
    assert.ok(a.closed);
    const bCount = b.sent.length;
    await sleep(500);
    assert.ok(b.sent.length > bCount, 'b keeps receiving');
    assert.equal(engine.encoderCount(), 3);
    // The last destination of a group leaving stops its encoder.
    await engine.stop('default:share', 'b');
    await waitFor(() => engine.encoderCount() === 2, 'encoder of the 360p group to stop', 10_000);
    await waitFor(() => ffmpegChildren().length === 2, 'ffmpeg process to exit', 10_000);
    await engine.stop('default:share', 'c');
    await engine.stop('default:share', 'd');
    await waitFor(() => ffmpegChildren().length === 0, 'all encoders to exit', 10_000);
    assert.equal(engine.stats('default:share').length, 0);
    assert.equal(listener.events.filter((e) => e.kind === 'failed').length, 0);
  });

  it('survives the encoder being killed: same session, monotonic timestamps, fresh sequence headers', async () => {
    engine.start({ callCid: 'default:kill', name: 'k', streamUrl: 'rtmp://k/live', streamKey: 'kk', quality: '360p', layout: layout() });
    await listener.waitFor('started', 'k');
    await sleep(1500);
    const group = engine.groupOf('default:kill', 'k');
    assert.ok(group);
    const pid = group.encoderPid;
    assert.ok(pid);
    const session = targets.last('rtmp://k/live/kk');
    const before = session.sent.length;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => group.encoderPid !== undefined && group.encoderPid !== pid, 'encoder restart', 15_000);
    await waitFor(
      () => videoFrames(session).filter((t) => t.keyframe).length >= 2 && session.sent.length > before + 60,
      'frames after the restart',
      20_000,
    );
    assert.equal(targets.all('rtmp://k/live/kk').length, 1, 'no reconnect');
    assert.equal(session.closed, false);
    assertMonotonic(session.sent);
    // The restart re-sent the sequence headers, followed by a keyframe.
    const seqVideo = session.sent.flatMap((t, i) => (t.type === 'video' && t.seq ? [i] : []));
    assert.equal(seqVideo.length, 2);
    const afterHeaders = session.sent.slice(seqVideo[1]!).find((t) => !t.seq && t.type !== 'script')!;
    assert.ok(afterHeaders.type === 'video' && afterHeaders.keyframe);
    const stats = engine.stats('default:kill')[0]!;
    assert.equal(stats.state, 'live');
    assert.equal(stats.reconnects, 0);
    assert.equal(engine.encoderCount(), 1);
    assert.equal(ffmpegChildren().length, 1);
    await engine.stop('default:kill', 'k');
    assert.equal(listener.events.filter((e) => e.kind === 'failed').length, 0);
  });

  it('reconnects a dropped session at a keyframe with headers and continuous timestamps', async () => {
    engine.start({ callCid: 'default:drop', name: 'r', streamUrl: 'rtmp://r/live', streamKey: 'kr', quality: '360p', layout: layout() });
    engine.start({ callCid: 'default:drop', name: 's', streamUrl: 'rtmp://s/live', streamKey: 'ks', quality: '360p', layout: layout() });
    await listener.waitFor('started', 'r');
    await listener.waitFor('started', 's');
    await sleep(1000);
    const first = targets.last('rtmp://r/live/kr');
    const other = targets.last('rtmp://s/live/ks');
    first.drop();
    await waitFor(
      () => targets.all('rtmp://r/live/kr').length === 2 && videoFrames(targets.last('rtmp://r/live/kr')).length > 30,
      'reconnect',
      15_000,
    );
    const second = targets.last('rtmp://r/live/kr');
    assertJoinOrder(second);
    assert.ok(second.sent[0]!.ts >= first.sent.at(-1)!.ts, 'the new session continues the timeline');
    assertMonotonic(other.sent);
    assert.equal(targets.all('rtmp://s/live/ks').length, 1, 'the other destination kept its session');
    const st = engine.stats('default:drop').find((s) => s.name === 'r')!;
    assert.equal(st.reconnects, 1);
    assert.equal(st.state, 'live');
    assert.equal(listener.events.filter((e) => e.kind === 'started' && e.name === 'r').length, 1, 'onStarted once');
    await engine.stop('default:drop', 'r');
    await engine.stop('default:drop', 's');
  });

  it('fails a destination that keeps being refused, without disturbing its group', async () => {
    targets.behaviour.set('rtmp://bad/live/secret-key-1', { refuse: true });
    engine.start({ callCid: 'default:fail', name: 'ok', streamUrl: 'rtmp://ok/live', streamKey: 'k', quality: '360p', layout: layout() });
    engine.start({
      callCid: 'default:fail',
      name: 'bad',
      streamUrl: 'rtmp://bad/live',
      streamKey: 'secret-key-1',
      quality: '360p',
      layout: layout(),
    });
    const failed = await listener.waitFor('failed', 'bad');
    assert.match(failed.reason!, /refused/);
    assert.ok(!failed.reason!.includes('secret-key-1'));
    assert.ok(targets.all('rtmp://bad/live/secret-key-1').length >= 2, 'retried before giving up');
    assert.ok(!listener.find('started', 'bad'));
    assert.deepEqual(
      engine.stats('default:fail').map((s) => s.name),
      ['ok'],
    );
    const ok = targets.last('rtmp://ok/live/k');
    const n = ok.sent.length;
    await sleep(500);
    assert.ok(ok.sent.length > n);
    assert.equal(engine.encoderCount(), 1);
    await engine.stop('default:fail', 'ok');
    assert.ok(!log.text().includes('secret-key-1'), 'stream key never logged');
  });

  it('drops frames to a slow destination until the next keyframe instead of queueing', async () => {
    targets.behaviour.set('rtmp://slow/live/k', { slow: true });
    engine.start({
      callCid: 'default:slow',
      name: 'slow',
      streamUrl: 'rtmp://slow/live',
      streamKey: 'k',
      quality: '360p',
      layout: layout(),
    });
    engine.start({
      callCid: 'default:slow',
      name: 'fast',
      streamUrl: 'rtmp://fast/live',
      streamKey: 'k',
      quality: '360p',
      layout: layout(),
    });
    await listener.waitFor('started', 'slow');
    await listener.waitFor('started', 'fast');
    const slow = targets.last('rtmp://slow/live/k');
    const fast = targets.last('rtmp://fast/live/k');
    await waitFor(() => videoFrames(fast).filter((t) => t.keyframe).length >= 3, 'three GOPs', 20_000);
    // The socket backs up after every send and drains within a GOP: only keyframes get through.
    const slowFrames = videoFrames(slow);
    assert.ok(slowFrames.length >= 2);
    assert.ok(
      slowFrames.every((t) => t.keyframe),
      'only keyframes reach the slow destination',
    );
    assert.ok(videoFrames(fast).some((t) => !t.keyframe));
    await engine.stop('default:slow', 'slow');
    await engine.stop('default:slow', 'fast');
  });

  it('rejects a second broadcast of the same name and reports a malformed target as failed', async () => {
    const strict = new EgressEngine({ listener, log, retry: { giveUpAfterMs: 1000 } });
    strict.start({
      callCid: 'default:url',
      name: 'u',
      streamUrl: 'http://not-rtmp/x',
      streamKey: 'hidden-key',
      quality: '360p',
      layout: layout(),
    });
    const failed = await listener.waitFor('failed', 'u');
    assert.ok(!failed.reason!.includes('hidden-key'));
    assert.equal(strict.encoderCount(), 0);
    await strict.close();

    engine.start({ callCid: 'default:dup', name: 'x', streamUrl: 'rtmp://x/live', streamKey: 'k', quality: '360p', layout: layout() });
    assert.throws(
      () =>
        engine.start({ callCid: 'default:dup', name: 'x', streamUrl: 'rtmp://y/live', streamKey: 'k', quality: '720p', layout: layout() }),
      /already active/,
    );
    await listener.waitFor('started', 'x');
    assert.equal(engine.encoderCount(), 1);
    await engine.stop('default:dup', 'x');
    // Stopping an unknown broadcast is a no-op (after the real stop below).
    await engine.stop('default:dup', 'x');
    assert.equal(listener.events.filter((e) => e.kind === 'stopped' && e.name === 'x').length, 1);
  });
  it('fails with a clear reason when the encoder cannot be started', async () => {
    const broken = new EgressEngine({ listener, log, openTarget: targets.open, ffmpegPath: '/nonexistent/ffmpeg' });
    broken.start({
      callCid: 'default:noffmpeg',
      name: 'nf',
      streamUrl: 'rtmp://nf/live',
      streamKey: 'k',
      quality: '360p',
      layout: layout(),
    });
    const failed = await listener.waitFor('failed', 'nf');
    assert.match(failed.reason!, /ffmpeg/);
    assert.equal(broken.stats('default:noffmpeg').length, 0);
    await waitFor(() => broken.groupCount() === 0, 'group to close', 5000);
    await broken.close();
  });

  it('draws from the frame source factory it is given, once per group, and closes it with the group', async () => {
    const made: Array<{ callCid: string; quality: string; closed: boolean; frames: number; samples: number }> = [];
    const custom = new EgressEngine({
      listener,
      log,
      openTarget: targets.open,
      frameSourceFactory: (callCid, quality) => {
        const rec = { callCid, quality, closed: false, frames: 0, samples: 0 };
        made.push(rec);
        const frame = Buffer.alloc(640 * 360 * 1.5, 128);
        return {
          videoFrame: () => {
            rec.frames++;
            return frame;
          },
          audioSamples: (_pts, n) => {
            rec.samples += n;
            return Buffer.alloc(n * 4);
          },
          close: () => {
            rec.closed = true;
          },
        };
      },
    });
    custom.start({ callCid: 'default:src', name: 'p', streamUrl: 'rtmp://p/live', streamKey: 'k', quality: '360p', layout: layout() });
    custom.start({ callCid: 'default:src', name: 'q', streamUrl: 'rtmp://q/live', streamKey: 'k', quality: '360p', layout: layout() });
    await listener.waitFor('started', 'p');
    await listener.waitFor('started', 'q');
    assert.equal(made.length, 1);
    assert.equal(made[0]!.callCid, 'default:src');
    assert.equal(made[0]!.quality, '360p');
    await custom.stop('default:src', 'p');
    assert.equal(made[0]!.closed, false);
    await custom.stop('default:src', 'q');
    await waitFor(() => made[0]!.closed, 'source to close', 10_000);
    // Audio and video advance together: 1600 sample frames (48 kHz / 30 fps) per video frame.
    assert.equal(made[0]!.samples, made[0]!.frames * 1600);
    await custom.close();
  });

  it('moves a destination to the group of its new layout at a keyframe: same session, continuous timestamps, emptied group stops', async (t) => {
    const cid = 'default:move';
    const red = layout({ 'layout.background_color': '#ff0000' });
    const blue = layout({ 'layout.background_color': '#0000ff' });
    engine.start({ callCid: cid, name: 'm1', streamUrl: 'rtmp://m1/live', streamKey: 'k', quality: '360p', layout: layout() });
    engine.start({ callCid: cid, name: 'm2', streamUrl: 'rtmp://m2/live', streamKey: 'k', quality: '360p', layout: red });
    await listener.waitFor('started', 'm1');
    await listener.waitFor('started', 'm2');
    assert.equal(engine.encoderCount(), 2);
    await sleep(1000);
    const m1 = targets.last('rtmp://m1/live/k');
    const m2 = targets.last('rtmp://m2/live/k');
    const videoHeaders = (s: MemorySession) => s.sent.flatMap((tag, i) => (tag.type === 'video' && tag.seq ? [i] : []));
    /** The media tag right after the n-th video sequence header, and the step from the last media tag before it. */
    const switchAt = (s: MemorySession, n: number) => {
      const at = videoHeaders(s)[n]!;
      const before = s.sent
        .slice(0, at)
        .filter((tag) => !tag.seq && tag.type !== 'script')
        .at(-1)!;
      const first = s.sent.slice(at).find((tag) => !tag.seq && tag.type !== 'script')!;
      return { first, stepMs: first.ts - before.ts };
    };

    // Into a running group (red, with m2): no new encoder; the old group stops with its last destination.
    const oldGroup = engine.groupOf(cid, 'm1')!;
    const redGroup = engine.groupOf(cid, 'm2')!;
    assert.equal(engine.changeLayout(cid, 'm1', red), true);
    await waitFor(() => engine.groupOf(cid, 'm1') === redGroup, 'm1 in the red group', 10_000);
    await waitFor(() => oldGroup.closed && engine.encoderCount() === 1, 'the emptied group to stop', 10_000);
    const first = switchAt(m1, 1);
    assert.ok(first.first.type === 'video' && first.first.keyframe, 'the move starts at a keyframe');
    assert.ok(first.stepMs > 0, `timestamps continue (step ${first.stepMs} ms)`);
    t.diagnostic(`move into a running group: timestamp step at the switch ${first.stepMs} ms`);

    // Into a new group (blue): a new encoder; the red group keeps m2.
    assert.equal(engine.changeLayout(cid, 'm1', blue), true);
    await waitFor(() => engine.groupOf(cid, 'm1') !== redGroup, 'm1 in a new group', 15_000);
    assert.equal(engine.encoderCount(), 2);
    await waitFor(() => videoHeaders(m1).length === 3 && videoFrames(m1).length > 0, 'the new group streaming to m1', 10_000);
    const second = switchAt(m1, 2);
    assert.ok(second.first.type === 'video' && second.first.keyframe);
    assert.ok(second.stepMs > 0, `timestamps continue (step ${second.stepMs} ms)`);
    t.diagnostic(`move into a new group: timestamp step at the switch ${second.stepMs} ms`);

    // The same layout again changes nothing; a move called off before its keyframe leaves m2 where it was.
    assert.equal(engine.changeLayout(cid, 'm1', blue), true);
    const m2Headers = videoHeaders(m2).length;
    assert.equal(engine.changeLayout(cid, 'm2', layout({ 'layout.background_color': '#00ff00' })), true);
    assert.equal(engine.changeLayout(cid, 'm2', red), true);
    assert.equal(engine.groupOf(cid, 'm2'), redGroup);
    await waitFor(() => engine.groupCount() === 2, 'the called-off group to stop', 10_000);
    await sleep(2500);
    assert.equal(videoHeaders(m2).length, m2Headers, 'm2 never switched');
    assert.equal(engine.changeLayout(cid, 'nobody', red), false);

    await sleep(500);
    assert.equal(targets.all('rtmp://m1/live/k').length, 1, 'one session for m1 throughout');
    assert.equal(targets.all('rtmp://m2/live/k').length, 1, 'one session for m2 throughout');
    assertMonotonic(m1.sent);
    assertMonotonic(m2.sent);
    for (const s of engine.stats(cid)) assert.equal(s.reconnects, 0, `${s.name} reconnected`);
    await engine.stop(cid, 'm1');
    await engine.stop(cid, 'm2');
    await waitFor(() => ffmpegChildren().length === 0, 'all encoders to exit', 10_000);
    assert.equal(listener.events.filter((e) => e.kind === 'failed' && e.callCid === cid).length, 0);
  });
});
