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
  /** 10 ms decoder chunks read at 30 fps through `tl`, with a script of what the writer and reader do. */
  function simulate(tl: PcmTimeline, stats: PcmReadStats) {
    let written = 0;
    const out: number[] = [];
    let clock = 0;
    let nextRead = 0;
    let tick = 0;
    const readTick = () => {
      out.push(...frameValues(tl.read('group', sampleFramesForTick(tick, RATE, FPS), stats)));
      tick += 1;
    };
    return {
      out,
      write(frames: number) {
        tl.write(ramp(written, frames));
        written += frames;
      },
      /** `ms` of real time: the writer delivers 10 ms chunks (unless `writing` is false) and the reader reads its due ticks. */
      advance(ms: number, writing: boolean, reading = true) {
        for (const end = clock + ms; clock < end; clock += 10) {
          if (writing) this.write(480);
          while (reading && nextRead <= clock) {
            readTick();
            nextRead += 1000 / FPS;
          }
        }
        if (!reading) while (nextRead <= clock) nextRead += 1000 / FPS;
      },
      /** The reader runs its missed ticks back to back (the pacer's catch-up). */
      catchUp(ticks: number) {
        for (let i = 0; i < ticks; i++) readTick();
      },
      lost(frames: number) {
        written += frames;
      },
    };
  }

  /** Sound after the first sample: silence counted, and every jump between consecutive samples. */
  function analyse(out: number[]) {
    const first = out.findIndex((v) => v !== 0);
    assert.ok(first >= 0);
    let silence = 0;
    let jumped = 0;
    let prev = -1;
    for (let k = first; k < out.length; k++) {
      if (out[k] === 0) {
        silence += 1;
        continue;
      }
      if (prev >= 0) {
        const gap = (((out[k]! - prev - 1) % 30000) + 30000) % 30000;
        assert.ok(gap < 29000, `sample ${k} repeats sound (gap ${gap})`);
        jumped += gap;
      }
      prev = out[k]!;
    }
    return { silence, jumped };
  }

  /** Two more seconds of writing and reading: sound comes back within the target lag and goes on without a gap. */
  function assertSoundResumes(sim: ReturnType<typeof simulate>) {
    const before = sim.out.length;
    sim.advance(2000, true);
    const after = sim.out.slice(before);
    const firstSound = after.findIndex((v) => v !== 0);
    assert.ok(firstSound >= 0 && firstSound <= 0.06 * RATE + 1600, `sound resumes within the target lag (after ${firstSound} frames)`);
    assert.ok(
      after.slice(firstSound).every((v) => v !== 0),
      'and goes on without a gap',
    );
  }

  /** Writes the ramp on into `tl`, `frames` at a time. */
  function rampWriter(tl: PcmTimeline) {
    let written = 0;
    return (frames: number) => {
      tl.write(ramp(written, frames));
      written += frames;
    };
  }

  it('waits for late samples: an underrun is silence, no sound is lost to it, and the latency it adds is taken back', () => {
    const tl = new PcmTimeline();
    const stats: PcmReadStats = { underrunSampleFrames: 0, droppedSampleFrames: 0 };
    const sim = simulate(tl, stats);
    sim.advance(1000, true); // 10 ms chunks, read at 30 fps
    sim.advance(80, false); // the decoder is starved for 80 ms
    sim.write(80 * 48); // then delivers the late 80 ms at once
    sim.advance(1000, true);
    sim.advance(200, false); // a second, longer starvation
    sim.write(200 * 48);
    sim.advance(3000, true);
    const { silence, jumped } = analyse(sim.out);
    console.log(
      `two late chunks (80 and 200 ms): ${silence} sample frames of silence, underrun counted ${stats.underrunSampleFrames}, skipped ${jumped} (dropped ${stats.droppedSampleFrames}), lag at the end ${tl.lagOf('group')}`,
    );
    assert.ok(silence > 0, 'the reader waited for the late parts');
    assert.equal(stats.underrunSampleFrames, silence, 'the silence is counted as underrun');
    assert.equal(stats.droppedSampleFrames, jumped, 'whatever was skipped is counted');
    assert.ok(jumped < 200 * 48, 'less was skipped than came late');
    assert.ok(tl.lagOf('group')! <= 0.06 * RATE + 0.06 * RATE + 1600, `latency taken back: lag ${tl.lagOf('group')}`);
  });

  it('a writer that loses sound (it never comes) does not leave the reader ahead of it in silence', () => {
    const tl = new PcmTimeline();
    const stats: PcmReadStats = { underrunSampleFrames: 0, droppedSampleFrames: 0 };
    const sim = simulate(tl, stats);
    sim.advance(1000, true);
    for (let i = 0; i < 15; i++) {
      sim.lost(480); // 150 ms of decoded sound never delivered (packets lost on the way)
      sim.advance(10, false);
    }
    assertSoundResumes(sim);
  });

  it('a reader that catches up after a stall (ticks back to back) does not lose the sound that follows', () => {
    const tl = new PcmTimeline();
    const stats: PcmReadStats = { underrunSampleFrames: 0, droppedSampleFrames: 0 };
    const sim = simulate(tl, stats);
    sim.advance(1000, true);
    sim.advance(300, true, false); // the broadcast clock stalls while the decoder writes on
    sim.catchUp(9); // then runs the 9 missed ticks at once
    sim.catchUp(3); // and, its timer rounding, a few more than the writer had
    assertSoundResumes(sim);
    analyse(sim.out);
  });

  it('waits for a writer that pauses, and picks its sound up where it resumes', () => {
    const tl = new PcmTimeline();
    const stats: PcmReadStats = { underrunSampleFrames: 0, droppedSampleFrames: 0 };
    const write = rampWriter(tl);
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
    const write = rampWriter(tl);
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
