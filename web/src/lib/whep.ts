/**
 * WHEP subscription (draft-ietf-wish-whep) from the browser: POST a recvonly offer with the user's
 * token, apply the answer, hand the received stream to the caller, DELETE the resource to stop.
 */
import { ApiRequestError, apiErrorMessage } from './api.js';
import { resourceUrl } from './urls.js';
import { waitForIceGathering } from './whip.js';

export class WhepSubscriber {
  private pc: RTCPeerConnection | null = null;
  private resource: string | null = null;

  constructor(
    private readonly endpoint: string,
    private token: string,
    /** The origin the service is reached on (default: the page's own). */
    private readonly origin: string = location.origin,
    /** The kinds of media to receive (a participant without a microphone: video only). */
    private readonly kinds: ReadonlyArray<'audio' | 'video'> = ['audio', 'video'],
  ) {}

  /** The token the DELETE at the end carries (a renewed one). */
  setToken(token: string): void {
    this.token = token;
  }

  get connection(): RTCPeerConnection | null {
    return this.pc;
  }

  /** Subscribes; resolves with the stream that the answer's tracks arrive on. */
  async subscribe(onState?: (state: RTCPeerConnectionState) => void): Promise<MediaStream> {
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    this.pc = pc;
    const stream = new MediaStream();
    pc.addEventListener('track', (ev) => {
      if (!stream.getTracks().includes(ev.track)) stream.addTrack(ev.track);
    });
    pc.addEventListener('connectionstatechange', () => onState?.(pc.connectionState));
    for (const kind of this.kinds) pc.addTransceiver(kind, { direction: 'recvonly' });
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc, 3_000);
    const res = await fetch(this.endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp', Authorization: this.token, 'stream-auth-type': 'jwt' },
      body: pc.localDescription?.sdp ?? '',
    });
    const text = await res.text();
    if (res.status !== 201 && res.status !== 200) {
      let body: unknown = null;
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
      pc.close();
      this.pc = null;
      throw new ApiRequestError(apiErrorMessage(res.status, body), res.status, null);
    }
    this.resource = resourceUrl(this.endpoint, res.headers.get('Location'), this.origin);
    await pc.setRemoteDescription({ type: 'answer', sdp: text });
    return stream;
  }

  /**
   * Ends the subscription. `release: false` when the server has ended it already (the participant
   * left, or the connection failed: the server closes its side by itself), so no DELETE is sent.
   */
  async stop(release = true): Promise<void> {
    const resource = release ? this.resource : null;
    this.resource = null;
    this.pc?.close();
    this.pc = null;
    if (resource) {
      await fetch(resource, { method: 'DELETE', headers: { Authorization: this.token, 'stream-auth-type': 'jwt' } }).catch(() => undefined);
    }
  }
}
