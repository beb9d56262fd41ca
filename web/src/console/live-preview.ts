/**
 * The console's live preview of one broadcast: a play button that subscribes over WHEP to the
 * broadcast's composed picture and mixed sound (`.../rtmp_broadcasts/{name}/whep`) and plays them
 * in a video element; stop ends the subscription. While it does not play (not started, failed, the
 * server ended it) the card shows its one-picture-a-second image instead.
 */
import { messageOf } from '../lib/api.js';
import { h } from '../lib/dom.js';
import { WhepSubscriber } from '../lib/whep.js';

export interface LivePreviewOptions {
  name: string;
  /** the WHEP endpoint of the broadcast's preview */
  endpoint: string;
  token: string;
  /** called when it starts or stops playing (the card shows or hides its image) */
  onChange: (playing: boolean) => void;
}

export class LivePreview {
  readonly video: HTMLVideoElement;
  readonly button: HTMLButtonElement;
  readonly note: HTMLElement;
  private subscriber: WhepSubscriber | null = null;
  private playingValue = false;
  private generation = 0;

  constructor(private readonly opts: LivePreviewOptions) {
    this.video = h('video', {
      class: 'preview live-preview',
      'aria-label': `Live preview of broadcast ${opts.name}`,
      hidden: true,
    });
    this.video.playsInline = true;
    this.video.autoplay = true;
    this.button = h(
      'button',
      { type: 'button', class: 'secondary', 'aria-label': `Play live preview of broadcast ${opts.name}`, 'data-action': 'live-preview' },
      'Play live',
    );
    this.note = h('p', { class: 'muted live-note' });
    this.button.addEventListener('click', () => {
      if (this.subscriber) this.stop();
      else void this.start();
    });
  }

  /** Playing live video (the image fallback is hidden meanwhile). */
  get playing(): boolean {
    return this.playingValue;
  }

  async start(): Promise<void> {
    if (this.subscriber) return;
    const generation = ++this.generation;
    const sub = new WhepSubscriber(this.opts.endpoint, this.opts.token);
    this.subscriber = sub;
    this.setButton(true);
    this.note.textContent = 'Connecting the live preview…';
    this.video.dataset.state = 'connecting';
    try {
      const stream = await sub.subscribe((state) => {
        if (generation !== this.generation) return;
        this.video.dataset.state = state;
        if (state === 'failed' || state === 'closed' || state === 'disconnected') {
          // The server ends the subscription when the broadcast stops; a lost connection is not retried.
          this.end(
            state === 'failed' ? 'The live preview connection failed; showing a picture a second.' : 'The live preview ended.',
            false,
          );
        }
      });
      if (generation !== this.generation) return;
      this.video.srcObject = stream;
      this.video.addEventListener(
        'playing',
        () => {
          if (generation !== this.generation) return;
          this.playingValue = true;
          this.video.hidden = false;
          this.note.textContent = 'Live (WebRTC)';
          this.opts.onChange(true);
        },
        { once: true },
      );
      await this.video.play().catch(() => undefined);
    } catch (err) {
      if (generation !== this.generation) return;
      this.end(`Live preview unavailable (${messageOf(err)}); showing a picture a second.`, false);
    }
  }

  /** Stops playing and ends the subscription. */
  stop(): void {
    this.end('', true);
  }

  /** The broadcast ended: the server has closed the subscription already. */
  ended(): void {
    if (this.subscriber) this.end('', false);
    this.button.hidden = true;
  }

  private end(message: string, release: boolean): void {
    this.generation += 1;
    const sub = this.subscriber;
    this.subscriber = null;
    void sub?.stop(release);
    this.video.pause();
    this.video.srcObject = null;
    this.video.hidden = true;
    this.video.dataset.state = 'stopped';
    this.note.textContent = message;
    this.setButton(false);
    if (this.playingValue) {
      this.playingValue = false;
      this.opts.onChange(false);
    }
  }

  private setButton(active: boolean): void {
    this.button.textContent = active ? 'Stop live' : 'Play live';
    this.button.setAttribute('aria-label', `${active ? 'Stop' : 'Play'} live preview of broadcast ${this.opts.name}`);
    this.button.setAttribute('aria-pressed', active ? 'true' : 'false');
  }
}
