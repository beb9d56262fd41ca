/**
 * Sharing a screen from the join page: the browser's capture (`getDisplayMedia`, the screen's
 * sound when the browser offers it) published as a WHIP session of its own
 * (`.../whip?track_type=screen_share`, same token as the camera). It ends when the page stops it
 * (DELETE of the session), when the browser's capture ends (the user pressed the browser's own
 * "Stop sharing", or the shared window closed), or when its connection fails.
 */
import { WhipPublisher } from '../lib/whip.js';

export type ShareEnd = 'stopped' | 'capture-ended' | 'connection-failed';

export interface ScreenShareOptions {
  /** The WHIP endpoint of the share (with `track_type=screen_share` and api_key). */
  endpoint: string;
  token: string;
  /** Called once when the share ends by itself (not after `stop()`). */
  onEnded: (why: Exclude<ShareEnd, 'stopped'>) => void;
}

export class ScreenShare {
  private stream: MediaStream | null = null;
  private publisher: WhipPublisher | null = null;
  private ended = false;

  constructor(private readonly opts: ScreenShareOptions) {}

  /** The captured stream (for a local preview), once started. */
  get media(): MediaStream | null {
    return this.stream;
  }

  /**
   * Asks the browser for a screen (the user picks one) and publishes it. Rejects when the user
   * declines or the server refuses (the API's message: no `screenshare` capability, ...).
   */
  async start(): Promise<void> {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: true });
    this.stream = stream;
    const video = stream.getVideoTracks()[0];
    // The browser's own "Stop sharing" (or the shared window closing) ends the capture.
    video?.addEventListener('ended', () => this.endBy('capture-ended'));
    const p = new WhipPublisher(this.opts.endpoint, this.opts.token);
    this.publisher = p;
    try {
      await p.publish(stream, (state) => {
        if (state === 'failed') this.endBy('connection-failed');
      });
    } catch (err) {
      await this.stop();
      throw err;
    }
    // Ended while the offer was answered: the session that was just made goes too.
    if (this.ended) await p.stop();
  }

  /** Ends the share: the WHIP session is deleted and the capture stopped. */
  async stop(): Promise<void> {
    this.ended = true;
    const p = this.publisher;
    this.publisher = null;
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    this.stream = null;
    await p?.stop();
  }

  private endBy(why: Exclude<ShareEnd, 'stopped'>): void {
    if (this.ended) return;
    this.ended = true;
    void this.stop();
    this.opts.onEnded(why);
  }
}
