/**
 * The broadcast picture and sound of a call, for one broadcast group (call, quality, layout):
 * the layout engine's scene drawn by the native compositor with each participant's latest
 * decoded frame in its tile, and everyone's audio mixed.
 *
 * The scene is recomputed only when the call's media state changes (join, leave, tracks,
 * speaking flags, published size), when images it shows finish loading, and once a second (for
 * time-driven layouts such as the single-participant shuffle). The compositor gets a new scene
 * only when it differs, and every tile's decoder is told the size, fit and mirroring its tile
 * needs. Joining and leaving just change the scene: the encoder keeps running.
 */
import type { FrameSource, FrameSourceFactory } from '../egress/frame-source.js';
import { composeScene, type Scene } from '../layout/scene.js';
import { canvasFor, type CanvasSize, type LayoutSettings, type Quality } from '../layout/settings.js';
import { FrameCompositor, type TileFrame } from '../render/compositor.js';
import type { ImageStore } from '../render/images.js';
import type { CallMedia } from './call-media.js';
import { mixPcm, type PcmReadStats } from './mixer.js';
import { outputKey, type VideoOutputSpec } from './track-decoder.js';

export interface CallFrameSourceDeps {
  media: CallMedia;
  images: ImageStore;
}

const SCENE_REFRESH_MS = 1000;
let nextConsumerId = 1;

function imageUrls(scene: Scene): string[] {
  const urls: string[] = [];
  for (const item of scene.items) {
    if (item.kind === 'placeholder' && item.imageUrl) urls.push(item.imageUrl);
    else if (item.kind === 'logo') urls.push(item.url);
    else if (item.kind === 'background' && item.image) urls.push(item.image.url);
  }
  return urls;
}

export class CallFrameSource implements FrameSource {
  readonly canvas: CanvasSize;
  private readonly compositor: FrameCompositor;
  private readonly consumer = `frame-source-${nextConsumerId++}`;
  private version = -1;
  private sceneKey = '';
  private sceneAt = 0;
  private imagesDirty = false;
  private scene: Scene | undefined;
  /** per tile session: the output spec asked of its decoder */
  private tiles = new Map<string, VideoOutputSpec>();
  private visible: string[] = [];
  private isClosed = false;
  private readonly audioLoss: PcmReadStats = { underrunSampleFrames: 0, droppedSampleFrames: 0 };

  constructor(
    private readonly callCid: string,
    quality: Quality,
    private readonly layout: LayoutSettings,
    private readonly deps: CallFrameSourceDeps,
  ) {
    this.canvas = canvasFor(quality);
    this.compositor = new FrameCompositor(this.canvas);
    this.refreshScene(Date.now(), true);
  }

  /** The scene currently drawn (for diagnostics and tests). */
  currentScene(): Scene | undefined {
    return this.scene;
  }

  videoFrame(_ptsMs: number): Buffer {
    const now = Date.now();
    const version = this.deps.media.version(this.callCid);
    if (version !== this.version || this.imagesDirty || now - this.sceneAt >= SCENE_REFRESH_MS) {
      this.version = version;
      this.refreshScene(now, false);
    }
    const frames = new Map<string, TileFrame>();
    for (const [sessionId, spec] of this.tiles) {
      const decoder = this.deps.media.videoDecoder(this.callCid, sessionId);
      if (!decoder) continue;
      const asked = decoder.wanted(this.consumer);
      if (!asked || outputKey(asked) !== outputKey(spec)) decoder.want(this.consumer, spec);
      const f = decoder.latestFrame(spec);
      if (f) frames.set(sessionId, f);
    }
    return this.compositor.compose(frames);
  }

  releaseFrame(frame: Buffer): void {
    this.compositor.release(frame);
  }

  audioSamples(_ptsMs: number, sampleFrames: number): Buffer {
    const inputs: Buffer[] = [];
    for (const timeline of this.deps.media.audioTimelines(this.callCid).values())
      inputs.push(timeline.read(this.consumer, sampleFrames, this.audioLoss));
    return mixPcm(inputs, sampleFrames);
  }

  /** Sound filled with silence or dropped, over every participant heard since the start. */
  audioStats(): PcmReadStats {
    return { ...this.audioLoss };
  }

  /** Whether `close` was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Withdraws this source's requests from the decoders and audio queues. Idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const sessionId of this.tiles.keys()) this.deps.media.videoDecoder(this.callCid, sessionId)?.want(this.consumer, undefined);
    for (const timeline of this.deps.media.audioTimelines(this.callCid).values()) timeline.release(this.consumer);
    this.tiles.clear();
  }

  private refreshScene(now: number, force: boolean): void {
    this.sceneAt = now;
    const imagesChanged = this.imagesDirty;
    this.imagesDirty = false;
    const scene = composeScene({
      canvas: this.canvas,
      participants: this.deps.media.participants(this.callCid),
      layout: this.layout,
      nowMs: now,
      ...(this.scene ? { visibleSessionIds: this.visible } : {}),
    });
    const key = JSON.stringify(scene);
    if (!force && !imagesChanged && key === this.sceneKey) return;
    const urls = imageUrls(scene);
    const missing = urls.filter((u) => !this.deps.images.get(u) && !this.deps.images.failure(u));
    if (missing.length > 0)
      void this.deps.images.loadAll(missing).then(() => {
        this.imagesDirty = true;
      });
    this.sceneKey = key;
    this.scene = scene;
    this.compositor.setScene(scene, this.deps.images);
    const rects = this.compositor.tileRects();
    const next = new Map<string, VideoOutputSpec>();
    for (const item of scene.items) {
      if (item.kind !== 'tile') continue;
      const rect = rects.get(item.sessionId);
      if (!rect) continue;
      const bg = item.videoBackground;
      next.set(item.sessionId, {
        width: rect.width,
        height: rect.height,
        fit: item.fit,
        mirror: item.mirror,
        background: { r: bg.r, g: bg.g, b: bg.b },
      });
    }
    // Tiles that went away no longer need frames from this group.
    for (const sessionId of this.tiles.keys()) {
      if (!next.has(sessionId)) this.deps.media.videoDecoder(this.callCid, sessionId)?.want(this.consumer, undefined);
    }
    this.tiles = next;
    this.visible = [
      ...new Set(
        scene.items.filter((i) => i.kind === 'tile' || i.kind === 'placeholder').map((i) => (i as { sessionId: string }).sessionId),
      ),
    ];
  }
}

export function createCallFrameSourceFactory(deps: CallFrameSourceDeps): FrameSourceFactory {
  return (callCid, quality, layout) => new CallFrameSource(callCid, quality, layout, deps);
}
