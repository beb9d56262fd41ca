/**
 * WHIP publishing (RFC 9725) of a camera and microphone stream: POST the SDP offer with the
 * user's token, apply the answer, DELETE the session resource to leave.
 */
import { ApiRequestError, apiErrorMessage } from './api.js';
import { resourceUrl } from './urls.js';

export class WhipPublisher {
  private pc: RTCPeerConnection | null = null;
  private resource: string | null = null;
  private videoSender: RTCRtpSender | null = null;
  private audioSender: RTCRtpSender | null = null;

  constructor(
    private readonly endpoint: string,
    private readonly token: string,
  ) {}

  get connection(): RTCPeerConnection | null {
    return this.pc;
  }

  async publish(stream: MediaStream, onState?: (state: RTCPeerConnectionState) => void): Promise<void> {
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    this.pc = pc;
    pc.addEventListener('connectionstatechange', () => onState?.(pc.connectionState));
    for (const track of stream.getTracks()) {
      const { sender } = pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
      if (track.kind === 'video') this.videoSender = sender;
      else this.audioSender = sender;
    }
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc, 3_000);
    const offer = pc.localDescription?.sdp ?? '';
    const res = await fetch(this.endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp', Authorization: this.token, 'stream-auth-type': 'jwt' },
      body: offer,
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
    this.resource = resourceUrl(this.endpoint, res.headers.get('Location'), location.origin);
    await pc.setRemoteDescription({ type: 'answer', sdp: text });
  }

  /**
   * Stops or resumes sending a kind without leaving: `null` sends nothing (the call and the
   * broadcast show the participant's placeholder), a track sends it again.
   */
  async replaceTrack(kind: 'audio' | 'video', track: MediaStreamTrack | null): Promise<void> {
    const sender = kind === 'video' ? this.videoSender : this.audioSender;
    await sender?.replaceTrack(track);
  }

  async stop(): Promise<void> {
    const resource = this.resource;
    this.resource = null;
    this.pc?.close();
    this.pc = null;
    if (resource) {
      await fetch(resource, { method: 'DELETE', headers: { Authorization: this.token, 'stream-auth-type': 'jwt' } }).catch(() => undefined);
    }
  }
}

export function waitForIceGathering(pc: RTCPeerConnection, timeoutMs: number): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      pc.removeEventListener('icegatheringstatechange', check);
      clearTimeout(timer);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', check);
  });
}
