/**
 * The call frame source against real publishers: red (440 Hz) and blue (880 Hz) publish over WHIP;
 * the grid layout at 360p shows red and blue at the tile centres the layout engine gave, the mix
 * carries both tones, and a participant leaving changes the picture of the same source. A source
 * started right after the last one closed shows the participant in its very first frame.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LayoutSettings } from '../../src/layout/settings.js';
import { createCallFrameSourceFactory, type CallFrameSource } from '../../src/media/call-frame-source.js';
import { rmsDbfs } from '../../src/media/mixer.js';
import { ImageStore } from '../../src/render/images.js';
import { TestPublisher } from '../support/publisher.js';
import { waitFor } from '../support/wait.js';
import { BLUE, RED, i420PixelRgb, near, startWhipApp, tonePower, type WhipTestApp } from './helpers.js';

const GRID: LayoutSettings = { name: 'grid', external_app_url: '', external_css_url: '' };

describe('call frame source', { timeout: 170_000 }, () => {
  let t: WhipTestApp;
  const publishers: TestPublisher[] = [];
  let source: CallFrameSource | undefined;

  before(async () => {
    t = await startWhipApp();
  });
  after(async () => {
    source?.close();
    await t?.close();
    await Promise.all(publishers.map((p) => p.close()));
  });

  it('renders the empty state with nobody publishing', () => {
    const factory = createCallFrameSourceFactory({ media: t.media, images: new ImageStore() });
    const empty = factory('default:nobody', '360p', GRID) as CallFrameSource;
    const frame = empty.videoFrame(0);
    assert.equal(frame.length, (640 * 360 * 3) / 2);
    assert.equal(empty.currentScene()!.items.filter((i) => i.kind === 'tile').length, 0);
    const audio = empty.audioSamples(0, 1600);
    assert.equal(audio.length, 1600 * 4);
    assert.ok(audio.every((b) => b === 0));
    empty.close();
  });

  it('shows red and blue at their tile centres and mixes both tones', async () => {
    const cid = 'default:fs-1';
    const url = t.whipUrl('default', 'fs-1');
    publishers.push(await TestPublisher.start({ url, token: 'alice', color: 'red', toneHz: 440 }));
    await waitFor(() => t.media.participants(cid).length === 1, 'alice');
    publishers.push(await TestPublisher.start({ url, token: 'bob', color: 'blue', toneHz: 880 }));
    await waitFor(() => {
      const ps = t.media.participants(cid);
      return ps.length === 2 && ps.every((p) => p.hasVideo && p.hasAudio);
    }, 'both with tracks');

    const factory = createCallFrameSourceFactory({ media: t.media, images: new ImageStore() });
    source = factory(cid, '360p', GRID) as CallFrameSource;
    const ids = new Map(t.media.participants(cid).map((p) => [p.userId, p.sessionId]));

    const centres = () => {
      const scene = source!.currentScene()!;
      const out = new Map<string, { x: number; y: number }>();
      for (const item of scene.items) {
        if (item.kind === 'tile')
          out.set(item.sessionId, { x: Math.round(item.rect.x + item.rect.width / 2), y: Math.round(item.rect.y + item.rect.height / 2) });
      }
      return out;
    };
    const colourAt = (frame: Buffer, p: { x: number; y: number }) => i420PixelRgb(frame, 640, 360, p.x, p.y);

    // Tick like the encoder does until both tiles show decoded video.
    let frame = source.videoFrame(0);
    await waitFor(
      () => {
        frame = source!.videoFrame(0);
        const c = centres();
        const a = c.get(ids.get('alice')!),
          b = c.get(ids.get('bob')!);
        return a && b && near(colourAt(frame, a), RED) && near(colourAt(frame, b), BLUE);
      },
      'both colours on the canvas',
      60_000,
      50,
    );
    const c = centres();
    assert.equal(c.size, 2);
    assert.notDeepEqual(c.get(ids.get('alice')!), c.get(ids.get('bob')!));

    // Audio: read like the encoder does (1600 sample frames per 30 fps tick), about a second.
    const chunks: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      chunks.push(source.audioSamples(i * 33, 1600));
      await new Promise((r) => setTimeout(r, 33));
    }
    const pcm = Buffer.concat(chunks);
    const p440 = tonePower(pcm, 440),
      p880 = tonePower(pcm, 880),
      p660 = tonePower(pcm, 660);
    assert.ok(p440 > 20 * p660, `440 Hz power ${p440} vs 660 Hz ${p660}`);
    assert.ok(p880 > 20 * p660, `880 Hz power ${p880} vs 660 Hz ${p660}`);

    // Bob leaves: the same source now draws Alice alone (one tile), still red at its centre.
    assert.equal(await publishers[1]!.unpublish(), 200);
    await waitFor(
      () => {
        frame = source!.videoFrame(0);
        const cc = centres();
        const a = cc.get(ids.get('alice')!);
        return cc.size === 1 && a && near(colourAt(frame, a), RED);
      },
      'one tile',
      30_000,
      50,
    );
  });

  it('shows the participant in the first frame of a source started right after the last one closed', async () => {
    const cid = 'default:fs-again';
    publishers.push(await TestPublisher.start({ url: t.whipUrl('default', 'fs-again'), token: 'carol', color: 'red', audio: false }));
    await waitFor(() => t.media.participants(cid).some((p) => p.hasVideo && p.videoSize), 'carol decoded');
    const factory = createCallFrameSourceFactory({ media: t.media, images: new ImageStore() });
    const centre = (frame: Buffer, w: number, h: number) => i420PixelRgb(frame, w, h, w / 2, h / 2);
    const first = factory(cid, '360p', GRID) as CallFrameSource;
    await waitFor(() => near(centre(first.videoFrame(0), 640, 360), RED), 'carol in the first source', 60_000, 50);
    // The only consumer goes (a broadcast stopped); another starts at once at another size (a
    // recording after HLS): the decoder kept running, so its first frame already shows her.
    first.close();
    const second = factory(cid, '480p', GRID) as CallFrameSource;
    try {
      const c = centre(second.videoFrame(0), 854, 480);
      assert.ok(near(c, RED), `the second source's first frame: ${JSON.stringify(c)}`);
    } finally {
      second.close();
    }
  });

  it("keeps a participant's audio and video aligned (lip sync)", async () => {
    const cid = 'default:fs-sync';
    // White with a 440 Hz tone during the first half of every second; black and silent otherwise.
    publishers.push(
      await TestPublisher.start({
        url: t.whipUrl('default', 'fs-sync'),
        token: 'carol',
        videoSource: "color=c=black:size=640x360:rate=30,drawbox=x=0:y=0:w=640:h=360:color=white:t=fill:enable='lt(mod(t,1),0.5)'",
        audioSource: "aevalsrc='if(lt(mod(t,1),0.5),0.5*sin(2*PI*440*t),0)':s=48000",
      }),
    );
    await waitFor(() => t.media.participants(cid).some((p) => p.hasVideo && p.hasAudio), 'publisher');
    const src = createCallFrameSourceFactory({ media: t.media, images: new ImageStore() })(cid, '360p', GRID) as CallFrameSource;
    try {
      // Wait for the first decoded picture, then sample both like the encoder's 30 fps clock does.
      await waitFor(
        () => {
          src.videoFrame(0);
          return t.media.videoDecoder(cid, t.media.participants(cid)[0]!.sessionId)?.latestFrame();
        },
        'video',
        90_000,
      );
      const rows: { t: number; v: boolean; a: boolean }[] = [];
      const start = Date.now();
      for (let i = 0; i < 30 * 8; i++) {
        await new Promise((r) => setTimeout(r, Math.max(0, start + (i * 1000) / 30 - Date.now())));
        const frame = src.videoFrame((i * 1000) / 30);
        const audio = src.audioSamples((i * 1000) / 30, 1600);
        const tile = src.currentScene()!.items.find((x) => x.kind === 'tile');
        if (tile?.kind !== 'tile') continue;
        const c = i420PixelRgb(
          frame,
          640,
          360,
          Math.round(tile.rect.x + tile.rect.width / 2),
          Math.round(tile.rect.y + tile.rect.height / 2),
        );
        rows.push({ t: Date.now() - start, v: c.r > 128, a: rmsDbfs(audio) > -30 });
      }
      const rising = (k: 'v' | 'a') => rows.filter((r, i) => i > 0 && r[k] && !rows[i - 1]![k]).map((r) => r.t);
      const ve = rising('v'),
        ae = rising('a');
      assert.ok(ve.length >= 4 && ae.length >= 4, `edges: video ${ve.length}, audio ${ae.length}`);
      const skews = ve
        .map((v) => ae.reduce((best, a) => (Math.abs(a - v) < Math.abs(best) ? a - v : best), Infinity))
        .filter(Number.isFinite)
        .sort((x, y) => x - y);
      const median = skews[Math.floor(skews.length / 2)]!;
      assert.ok(Math.abs(median) <= 100, `audio minus video at the flashes (ms): ${skews.map(Math.round).join(' ')}`);
    } finally {
      src.close();
    }
  });
});
