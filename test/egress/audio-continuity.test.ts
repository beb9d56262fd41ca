/**
 * The broadcast's sound stays continuous when the clock or the sound is late: the pacer runs the
 * ticks a short stall missed (it skips only after a long one, counting the sound lost), a tick the
 * encoder cannot take is offered again rather than dropped with its sound, and a participant's PCM
 * queue fills an underrun with silence, plays every late sample once and in order, and counts what
 * it fills and drops. Deterministic: mocked timers and a ramp signal, no load.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { Pacer, sampleFramesForTick, type PacerTick } from '../../src/egress/pacer.js';
import { BYTES_PER_SAMPLE_FRAME, PcmTimeline, type PcmReadStats } from '../../src/media/mixer.js';

const FPS = 30;
const RATE = 48000;

/** Drives a Pacer under mocked setTimeout; `stall(ms)` makes the consumer's work take that long. */
function pacedRun(opts: {
  ticks: number;
  // biome-ignore lint/suspicious/noConfusingVoidType: like the pacer's consumer, a test consumer may return nothing
  onTick: (t: PacerTick, stall: (ms: number) => void) => boolean | void;
  maxCatchUpTicks?: number;
}) {
  let offset = 0;
  const seen: PacerTick[] = [];
  const pacer = new Pacer({
    fps: FPS,
    sampleRate: RATE,
    now: () => Date.now() + offset,
    ...(opts.maxCatchUpTicks !== undefined ? { maxCatchUpTicks: opts.maxCatchUpTicks } : {}),
    onTick: (t) => {
      const taken = opts.onTick(t, (ms) => {
        offset += ms;
      });
      if (taken !== false) seen.push(t);
      return taken;
    },
  });
  pacer.start();
  for (let ms = 0; seen.length < opts.ticks && ms < 100_000; ms++) mock.timers.tick(1);
  pacer.stop();
  return { pacer, seen };
}

describe('sound through the pacer', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 }));
  afterEach(() => mock.timers.reset());

  it('runs every tick a short stall missed, so no sample frame is lost', () => {
    const { pacer, seen } = pacedRun({
      ticks: 90,
      onTick: (t, stall) => {
        if (t.index === 20 || t.index === 50) stall(300);
      },
    });
    assert.deepEqual(
      seen.map((t) => t.index),
      Array.from({ length: 90 }, (_, i) => i),
      'every tick, once, in order',
    );
    const total = seen.reduce((n, t) => n + t.sampleFrames, 0);
    assert.equal(total, Math.floor((90 * RATE) / FPS), 'the sound of 90 ticks');
    assert.equal(pacer.skippedTicks, 0);
    assert.equal(pacer.skippedSampleFrames, 0);
    console.log(`ticks run late after the two 300 ms stalls: ${pacer.lateTicks}`);
    assert.ok(pacer.lateTicks >= 2 * 8, 'the missed ticks were run late');
  });

  it('skips after a stall longer than the catch-up allowance and counts the sound it lost', () => {
    const { pacer, seen } = pacedRun({
      ticks: 40,
      maxCatchUpTicks: 15,
      onTick: (t, stall) => {
        if (t.index === 10) stall(1000);
      },
    });
    const skipped = seen.find((t) => t.skipped > 0)!;
    assert.ok(skipped, 'a tick after the stall reports skipped ticks');
    let lost = 0;
    for (let i = skipped.index - skipped.skipped; i < skipped.index; i++) lost += sampleFramesForTick(i, RATE, FPS);
    assert.equal(skipped.skippedSampleFrames, lost);
    assert.equal(pacer.skippedSampleFrames, lost);
    assert.equal(pacer.skippedTicks, skipped.skipped);
    const ran = seen.reduce((n, t) => n + t.sampleFrames, 0);
    const last = seen.at(-1)!.index;
    assert.equal(ran + pacer.skippedSampleFrames, Math.floor(((last + 1) * RATE) / FPS), 'run + counted lost = all the sound due');
  });

  it('offers a tick the consumer handed back again, instead of dropping it', () => {
    let refusals = 0;
    const { pacer, seen } = pacedRun({ ticks: 40, onTick: (t) => !(t.index === 12 && refusals++ < 4) });
    assert.equal(refusals, 5);
    assert.deepEqual(
      seen.map((t) => t.index),
      Array.from({ length: 40 }, (_, i) => i),
    );
    assert.equal(pacer.deferredTicks, 4);
    assert.equal(pacer.skippedTicks, 0);
  });
});

/** PCM whose every sample frame carries its index (1-based, both channels). */
function ramp(from: number, frames: number): Buffer {
  const b = Buffer.alloc(frames * BYTES_PER_SAMPLE_FRAME);
  for (let i = 0; i < frames; i++) {
    const v = ((from + i) % 30000) + 1;
    b.writeInt16LE(v, i * 4);
    b.writeInt16LE(v, i * 4 + 2);
  }
  return b;
}

function frameValues(pcm: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i + 3 < pcm.length; i += 4) out.push(pcm.readInt16LE(i));
  return out;
}

describe("a participant's PCM queue under gaps and late chunks", () => {
  it('plays an underrun as silence in place of the late samples, keeping the timing, and counts it', () => {
    const tl = new PcmTimeline();
    const stats: PcmReadStats = { underrunSampleFrames: 0, droppedSampleFrames: 0 };
    let written = 0;
    const write = (frames: number) => {
      tl.write(ramp(written, frames));
      written += frames;
    };
    const out: number[] = [];
    let clock = 0;
    let nextRead = 0;
    const advance = (ms: number, writing: boolean) => {
      for (const end = clock + ms; clock < end; clock += 10) {
        if (writing) write(480);
        while (nextRead <= clock) {
          out.push(...frameValues(tl.read('group', sampleFramesForTick(Math.round((nextRead * FPS) / 1000), RATE, FPS), stats)));
          nextRead += 1000 / FPS;
        }
      }
    };
    advance(1000, true); // 10 ms chunks, read at 30 fps
    advance(80, false); // the decoder is starved for 80 ms
    write(80 * 48); // then delivers the late 80 ms at once
    advance(1000, true);
    advance(200, false); // a second, longer starvation
    write(200 * 48);
    advance(1000, true);
    const first = out.findIndex((v) => v !== 0);
    assert.ok(first >= 0);
    // Every sample of sound is at its own place: output frame k holds input frame (k + constant).
    const offsets = new Set<number>();
    let silence = 0;
    for (let k = first; k < out.length; k++) {
      if (out[k] === 0) silence += 1;
      else offsets.add((((out[k]! - 1 - k) % 30000) + 30000) % 30000);
    }
    console.log(
      `two late chunks (80 and 200 ms): ${silence} sample frames of silence in their place, underrun counted ${stats.underrunSampleFrames}, dropped ${stats.droppedSampleFrames}`,
    );
    assert.equal(offsets.size, 1, 'no sample cut, shifted or repeated: one offset between output and input');
    assert.ok(silence > 0, 'the late parts were played as silence');
    assert.equal(stats.underrunSampleFrames, silence, 'the silence is counted as underrun');
    assert.equal(stats.droppedSampleFrames, 0);
  });

  it('waits for a writer that pauses, and picks its sound up where it resumes', () => {
    const tl = new PcmTimeline();
    const stats: PcmReadStats = { underrunSampleFrames: 0, droppedSampleFrames: 0 };
    let written = 0;
    const write = (frames: number) => {
      tl.write(ramp(written, frames));
      written += frames;
    };
    const out: number[] = [];
    for (let i = 0; i < 30; i++) {
      write(1600);
      out.push(...frameValues(tl.read('g', 1600, stats)));
    }
    for (let i = 0; i < 60; i++) out.push(...frameValues(tl.read('g', 1600, stats))); // 2 s without sound
    for (let i = 0; i < 30; i++) {
      write(1600);
      out.push(...frameValues(tl.read('g', 1600, stats)));
    }
    const sound = out.filter((v) => v !== 0);
    for (let i = 1; i < sound.length; i++) assert.equal(sound[i], (sound[i - 1]! % 30000) + 1, `sample ${i} follows the one before`);
    assert.ok(sound.length >= 60 * 1600 - 2 * 1920, 'all but the lag at the start and end was played');
    assert.equal(stats.underrunSampleFrames, 0, 'a pause is not an underrun');
    assert.equal(stats.droppedSampleFrames, 0);
  });

  it('counts what a consumer that falls too far behind skips', () => {
    const tl = new PcmTimeline();
    const stats: PcmReadStats = { underrunSampleFrames: 0, droppedSampleFrames: 0 };
    let written = 0;
    const write = (frames: number) => {
      tl.write(ramp(written, frames));
      written += frames;
    };
    const out: number[] = [];
    for (let i = 0; i < 30; i++) {
      write(1600);
      out.push(...frameValues(tl.read('g', 1600, stats)));
    }
    for (let i = 0; i < 17; i++) write(1600); // the reader stalls for 17 ticks (567 ms)
    for (let i = 0; i < 30; i++) {
      write(1600);
      out.push(...frameValues(tl.read('g', 1600, stats)));
    }
    const sound = out.filter((v) => v !== 0);
    let jumps = 0;
    let jumped = 0;
    for (let i = 1; i < sound.length; i++) {
      const gap = (((sound[i]! - sound[i - 1]! - 1) % 30000) + 30000) % 30000;
      assert.ok(gap < 29000, 'nothing repeated (a repeat shows as a gap just under the ramp period)');
      if (gap > 0) {
        jumps += 1;
        jumped += gap;
      }
    }
    assert.equal(jumps, 1);
    assert.equal(stats.droppedSampleFrames, jumped, 'the skipped sound is counted');
  });
});
