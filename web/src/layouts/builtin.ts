/**
 * The built-in layouts as a page (`/layouts/builtin`), for broadcasts whose layout sets
 * `external_css_url`: after `window.setupLayout(config)` it draws the same scene as the native
 * compositor (src/layout/scene.ts, the same pure code) as DOM with the class names of Stream's
 * egress layouts, its own styles in cascade layers (builtin.css) so that the unlayered external
 * stylesheet wins, the stylesheet linked from `config.ext_css`. Participants and their streams come
 * from the layout module (../sdk/layout.ts). `#egress-ready-for-capture` is added once the
 * stylesheet has loaded and every drawn video plays (at the latest READY_ANYWAY_MS after setup).
 */
import { composeScene, placeLogo, resolveLayout, visibleSessions, type Scene, type SceneItem } from '../../../src/layout/scene.js';
import type { LayoutSettings } from '../../../src/layout/settings.js';
import type { Rgba } from '../../../src/layout/color.js';
import {
  attachStream,
  connectLayout,
  layoutConfig,
  markReady,
  type LayoutCall,
  type LayoutConfig,
  type LayoutParticipant,
} from '../sdk/layout.js';
import { layoutFromConfig, sceneParticipant, SHARE_SUFFIX } from './scene-input.js';

const READY_ANYWAY_MS = 10_000;

type Tile = Extract<SceneItem, { kind: 'tile' }>;
type Placeholder = Extract<SceneItem, { kind: 'placeholder' }>;
type Label = Extract<SceneItem, { kind: 'label' }>;
type Outline = Extract<SceneItem, { kind: 'outline' }>;

const css = (c: Rgba): string => `rgba(${c.r}, ${c.g}, ${c.b}, ${(c.a / 255).toFixed(3)})`;
const px = (n: number): string => `${n}px`;
const flexAlign = (a: 'left' | 'center' | 'right'): string => (a === 'left' ? 'flex-start' : a === 'right' ? 'flex-end' : 'center');

function el(tag: string, className: string): HTMLElement {
  const e = document.createElement(tag);
  e.className = className;
  return e;
}

function setVars(e: HTMLElement, vars: Record<string, string>): void {
  for (const [k, v] of Object.entries(vars)) e.style.setProperty(`--cc-${k}`, v);
}

function place(e: HTMLElement, r: { x: number; y: number; width: number; height: number }, origin = { x: 0, y: 0 }): void {
  setVars(e, { x: px(r.x - origin.x), y: px(r.y - origin.y), w: px(r.width), h: px(r.height) });
}

interface TileView {
  root: HTMLElement;
  placeholder: HTMLElement;
  video: HTMLVideoElement;
  label: HTMLElement | null;
}

class BuiltinLayout {
  private call: LayoutCall | null = null;
  private people: LayoutParticipant[] = [];
  private readonly sizes = new Map<string, { width: number; height: number }>();
  private readonly tiles = new Map<string, TileView>();
  private scene: Scene | null = null;
  private shuffleTimer: ReturnType<typeof setTimeout> | null = null;
  private stylesheetSettled = true;
  private readonly startedAt = Date.now();
  private readonly stage = el('div', 'str-video');
  private readonly settings: LayoutSettings;
  private overlayCache: { key: string; element: HTMLElement } | null = null;

  constructor(private readonly config: LayoutConfig) {
    this.settings = layoutFromConfig(config);
  }

  async start(): Promise<void> {
    const root = document.getElementById('root') ?? document.body;
    root.replaceChildren(this.stage);
    if (this.config.ext_css) {
      this.stylesheetSettled = false;
      const link = document.createElement('link');
      link.rel = 'stylesheet';
      link.href = this.config.ext_css;
      const settle = (ok: boolean) => {
        if (!ok) console.error(`external_css_url could not be loaded: ${this.config.ext_css}`);
        this.stylesheetSettled = true;
        this.render();
      };
      link.addEventListener('load', () => settle(true));
      link.addEventListener('error', () => settle(false));
      document.head.appendChild(link);
    }
    window.addEventListener('resize', () => this.render());
    setTimeout(() => this.checkReady(), READY_ANYWAY_MS);
    this.render();
    // The page's sound is not the broadcast's (that is the call's mix): nothing to play.
    this.call = await connectLayout(this.config, { playAudio: false });
    this.call.onChange((ps) => {
      this.people = ps;
      this.render();
    });
  }

  private render(): void {
    if (this.shuffleTimer) clearTimeout(this.shuffleTimer);
    this.shuffleTimer = null;
    const participants = this.people.map((p) => sceneParticipant(p, this.sizes));
    const scene = composeScene({
      canvas: { width: window.innerWidth, height: window.innerHeight },
      participants,
      layout: this.settings,
      nowMs: Date.now(),
      ...(this.scene ? { visibleSessionIds: visibleSessions(this.scene) } : {}),
    });
    this.scene = scene;
    this.draw(scene, resolveLayout(this.settings, participants).options.spotlight.barPosition);
    if (scene.validUntilMs !== undefined) this.shuffleTimer = setTimeout(() => this.render(), Math.max(0, scene.validUntilMs - Date.now()));
    this.checkReady();
  }

  private draw(scene: Scene, barPosition: string): void {
    const bg = scene.items.find((i) => i.kind === 'background');
    if (bg?.kind === 'background') {
      setVars(this.stage, { background: css(bg.color) });
      const img = bg.image;
      setVars(this.stage, {
        'background-image': img ? `url(${JSON.stringify(img.url)})` : 'none',
        'background-size': img?.size ?? 'auto',
        'background-position': img?.position ?? '0% 0%',
        'background-repeat': img?.repeat ?? 'repeat',
      });
    }
    const placeholders = scene.items.filter((i): i is Placeholder => i.kind === 'placeholder');
    const tileOf = new Map(scene.items.filter((i): i is Tile => i.kind === 'tile').map((t) => [t.sessionId, t]));
    const labelOf = new Map(scene.items.filter((i): i is Label => i.kind === 'label').map((l) => [l.sessionId, l]));
    const outlineOf = new Map(scene.items.filter((i): i is Outline => i.kind === 'outline').map((o) => [o.sessionId, o]));
    const views = placeholders.map((ph) =>
      this.tileView(ph, tileOf.get(ph.sessionId), labelOf.get(ph.sessionId), outlineOf.get(ph.sessionId)),
    );
    const keep = new Set(placeholders.map((p) => p.sessionId));
    for (const [key, view] of this.tiles) {
      if (keep.has(key)) continue;
      view.video.srcObject = null;
      view.root.remove();
      this.tiles.delete(key);
    }
    this.stage.replaceChildren(this.structure(scene, barPosition, views), this.overlay(scene));
    for (const v of views) attachStream(v.video, v.video.srcObject instanceof MediaStream ? v.video.srcObject : null);
  }

  /** The layout's wrappers (Stream's class names) around the tiles, in scene order. */
  private structure(scene: Scene, barPosition: string, views: TileView[]): HTMLElement {
    const tiles = views.map((v) => v.root);
    if (scene.layout === 'grid') {
      const n = tiles.length;
      const size = n <= 1 ? 'one' : n <= 4 ? 'two-four' : 'five-nine';
      const group = el('div', `str-video__paginated-grid-layout__group str-video__paginated-grid-layout__group--${size}`);
      group.dataset.groupSize = String(n);
      group.append(...tiles);
      const layout = el('div', 'str-video__paginated-grid-layout');
      layout.append(group);
      const wrapper = el('div', 'str-video__paginated-grid-layout__wrapper');
      wrapper.append(layout);
      const outer = el('div', 'paginated-grid');
      outer.append(wrapper);
      return outer;
    }
    if (scene.layout === 'spotlight') {
      const [main, ...rest] = tiles;
      const spotlight = el('div', 'str-video__speaker-layout__spotlight');
      if (main) spotlight.append(main);
      const bar = el('div', 'str-video__speaker-layout__participants-bar');
      for (const t of rest) {
        const cell = el('div', 'str-video__speaker-layout__participant-tile');
        cell.append(t);
        bar.append(cell);
      }
      const barWrapper = el('div', 'str-video__speaker-layout__participants-bar-wrapper');
      barWrapper.append(bar);
      const buttons = el('div', 'str-video__speaker-layout__participants-bar-buttons-wrapper');
      buttons.append(barWrapper);
      const layout = el('div', `str-video__speaker-layout str-video__speaker-layout--variant-${barPosition}`);
      layout.append(spotlight, buttons);
      const wrapper = el('div', 'str-video__speaker-layout__wrapper');
      wrapper.append(layout);
      const outer = el('div', 'spotlight');
      outer.append(wrapper);
      return outer;
    }
    if (scene.screenShare) {
      const [share, pip] = tiles;
      const outer = el('div', 'eca__dominant-speaker-screen-share__container');
      if (share) outer.append(share);
      if (pip) {
        const current = el('div', 'eca__dominant-speaker-screen-share__current-speaker');
        current.append(pip);
        outer.append(current);
      }
      return outer;
    }
    const outer = el('div', 'eca__dominant-speaker__container');
    outer.append(...tiles);
    return outer;
  }

  /** The title and logo, built again only when they change (a new logo image would blink). */
  private overlay(scene: Scene): HTMLElement {
    const key = JSON.stringify([scene.width, scene.height, scene.items.filter((i) => i.kind === 'title' || i.kind === 'logo')]);
    if (this.overlayCache?.key === key) return this.overlayCache.element;
    const overlay = el('div', 'eca__logo-and-title-overlay');
    this.overlayCache = { key, element: overlay };
    for (const item of scene.items) {
      if (item.kind === 'title') {
        const title = el('div', 'eca__logo-and-title-overlay__title cc-positioned');
        place(title, item.rect);
        setVars(title, { 'title-color': css(item.color), 'title-font-size': px(item.fontSize), 'title-align': item.align });
        title.textContent = item.text;
        overlay.append(title);
      } else if (item.kind === 'logo') {
        const logo = document.createElement('img');
        logo.className = 'eca__logo-and-title-overlay__logo cc-positioned';
        logo.alt = '';
        const canvas = { width: scene.width, height: scene.height };
        logo.addEventListener('load', () => place(logo, placeLogo(item, canvas, { width: logo.naturalWidth, height: logo.naturalHeight })));
        logo.src = item.url;
        if (item.rect) place(logo, item.rect);
        overlay.append(logo);
      }
    }
    return overlay;
  }

  private tileView(ph: Placeholder, tile: Tile | undefined, label: Label | undefined, outline: Outline | undefined): TileView {
    let view = this.tiles.get(ph.sessionId);
    if (!view) {
      const root = el('div', 'str-video__participant-view cc-positioned');
      const placeholder = el('div', 'str-video__video-placeholder');
      const video = document.createElement('video');
      attachStream(video, null);
      const key = ph.sessionId;
      // The decoded size decides the fit (as the native compositor's), and a playing video the readiness.
      const onSize = () => {
        if (video.videoWidth > 0) this.sizes.set(key, { width: video.videoWidth, height: video.videoHeight });
        this.render();
      };
      video.addEventListener('resize', onSize);
      video.addEventListener('playing', onSize);
      root.append(placeholder, video);
      view = { root, placeholder, video, label: null };
      this.tiles.set(ph.sessionId, view);
    }
    const { root, placeholder, video } = view;
    const person = this.personOf(ph.sessionId);
    const share = ph.sessionId.endsWith(SHARE_SUFFIX);
    place(root, ph.rect);
    setVars(root, { radius: px(ph.radius), 'video-background': css(tile?.videoBackground ?? ph.background) });
    if (outline) setVars(root, { 'outline-width': px(outline.width), 'outline-color': css(outline.color) });
    const stream = (share ? person?.screenShareStream : person?.stream) ?? null;
    const playing = tile !== undefined && stream !== null && video.videoWidth > 0;
    const modifiers = [
      person?.isSpeaking && outline ? 'speaking' : '',
      person?.isDominantSpeaker ? 'dominant-speaker' : '',
      tile ? '' : 'no-video',
      person?.hasAudio ? '' : 'no-audio',
    ].filter(Boolean);
    root.className = ['str-video__participant-view', 'cc-positioned', ...modifiers.map((m) => `str-video__participant-view--${m}`)].join(
      ' ',
    );

    // The placeholder: always behind the video, shown while it is missing or not yet decoded.
    setVars(placeholder, {
      'placeholder-background': css(ph.background),
      circle: px(ph.circleDiameter),
      'circle-color': css(ph.circleColor),
    });
    const fallbackKey = JSON.stringify([ph.imageUrl ?? '', ph.initials]);
    if (placeholder.dataset.fallback !== fallbackKey) {
      placeholder.dataset.fallback = fallbackKey;
      placeholder.replaceChildren(placeholderContent(ph));
    }

    attachStream(video, tile ? stream : null);
    const who = person?.userId ?? '';
    video.dataset.userId = who;
    video.dataset.sessionId = person?.sessionId ?? '';
    video.className = [
      'str-video__video',
      tile?.mirror ? 'str-video__video--mirror' : '',
      share ? 'str-video__video--screen-share' : '',
      playing ? '' : 'str-video__video--not-playing',
      video.videoHeight > video.videoWidth ? 'str-video__video--tall' : '',
    ]
      .filter(Boolean)
      .join(' ');
    setVars(video, { fit: tile?.fit ?? 'cover' });

    view.label?.remove();
    view.label = null;
    if (label) {
      const box = el('div', 'cc-label-box cc-positioned');
      place(box, label.rect, ph.rect);
      setVars(box, { 'label-align': flexAlign(label.align) });
      const details = el('div', 'str-video__participant-details');
      const [tl, tr, br, bl] = label.borderRadius;
      setVars(details, {
        'label-color': css(label.textColor),
        'label-background': css(label.background),
        'label-radius': `${px(tl)} ${px(tr)} ${px(br)} ${px(bl)}`,
        'label-border-width': px(label.borderWidth),
        'label-border-color': css(label.borderColor),
        'label-font-size': px(label.fontSize),
        'label-padding': px(label.paddingInline),
      });
      const name = el('span', 'str-video__participant-details__name');
      name.textContent = label.text;
      details.append(name);
      box.append(details);
      root.append(box);
      view.label = box;
    }
    return view;
  }

  private personOf(key: string): LayoutParticipant | undefined {
    const id = key.endsWith(SHARE_SUFFIX) ? key.slice(0, -SHARE_SUFFIX.length) : key;
    return this.people.find((p) => p.sessionId === id);
  }

  private checkReady(): void {
    if (document.getElementById('egress-ready-for-capture')) return;
    if (Date.now() - this.startedAt >= READY_ANYWAY_MS) {
      markReady();
      return;
    }
    if (!this.stylesheetSettled || !this.call || !this.scene) return;
    const drawn = this.scene.items.filter((i): i is Tile => i.kind === 'tile');
    const playing = drawn.every((t) => (this.tiles.get(t.sessionId)?.video.videoWidth ?? 0) > 0);
    if (playing) markReady();
  }
}

/** The placeholder's avatar, initials, or "Video is disabled". */
function placeholderContent(ph: Placeholder): HTMLElement {
  if (ph.imageUrl) {
    const img = document.createElement('img');
    img.className = 'str-video__video-placeholder__avatar';
    img.alt = '';
    img.src = ph.imageUrl;
    return img;
  }
  if (ph.initials) {
    const initials = el('div', 'str-video__video-placeholder__initials-fallback');
    initials.textContent = ph.initials;
    return initials;
  }
  const label = el('div', 'str-video__video-placeholder__no-video-label');
  label.textContent = 'Video is disabled';
  return label;
}

void layoutConfig().then((config) => new BuiltinLayout(config).start());
