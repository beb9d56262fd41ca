/**
 * What every werift peer of the tests and the benchmark shares: ICE on 127.0.0.1 only, the offer
 * once gathering is complete (with its loopback candidates only), the WHIP/WHEP POST, and waiting
 * for the connection.
 */
import { RTCPeerConnection, type PeerConfig } from 'werift';

export interface WhipResponse {
  status: number;
  headers: Headers;
  body: string;
  /** The URL that answered (after redirects): a relative Location resolves against it. */
  url: string;
}

/**
 * POSTs an SDP offer (WHIP or WHEP); the answer's status, headers and body. A 307/308 (RFC 9725:
 * a cluster node sends the client to the call's node) is followed with the same offer and
 * headers, the token included (fetch would drop it on a redirect to another origin), at most 3 times.
 */
export async function postOffer(
  url: string,
  sdp: string,
  token?: string,
  headers: Record<string, string> = {},
  contentType = 'application/sdp',
): Promise<WhipResponse> {
  let target = url;
  for (let hop = 0; ; hop++) {
    const res = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': contentType, ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      body: sdp,
      redirect: 'manual',
      signal: AbortSignal.timeout(20_000),
    });
    const location = res.headers.get('location');
    if ((res.status === 307 || res.status === 308) && location && hop < 3) {
      await res.body?.cancel();
      target = new URL(location, target).toString();
      continue;
    }
    return { status: res.status, headers: res.headers, body: await res.text(), url: target };
  }
}

/** The SDP without candidates other than 127.0.0.1's. */
export function loopbackOnly(sdp: string): string {
  return sdp
    .split(/\r?\n/)
    .filter((l) => !l.startsWith('a=candidate:') || / 127\.0\.0\.1 /.test(l))
    .join('\r\n');
}

/** A peer connection whose ICE uses 127.0.0.1 only (interface enumeration off, loopback added). */
export function loopbackPeer(config: Pick<Partial<PeerConfig>, 'codecs' | 'headerExtensions' | 'bundlePolicy'>): RTCPeerConnection {
  return new RTCPeerConnection({
    ...config,
    iceUseIpv4: false,
    iceUseIpv6: false,
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceInterfaceAddresses: { udp4: '127.0.0.1' },
  });
}

/** Creates the local offer and waits (at most 5 s) for gathering; the offer with loopback candidates only. */
export async function loopbackOffer(pc: RTCPeerConnection): Promise<string> {
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise<void>((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    const t = setTimeout(resolve, 5000);
    pc.iceGatheringStateChange.subscribe((s) => {
      if (s === 'complete') {
        clearTimeout(t);
        resolve();
      }
    });
  });
  return loopbackOnly(pc.localDescription!.sdp);
}

/** Resolves once `pc` is connected; rejects when it fails or after `timeoutMs`, naming `who`. */
export function whenConnected(pc: RTCPeerConnection, who: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (pc.connectionState === 'connected') return resolve();
    const t = setTimeout(() => reject(new Error(`${who} did not connect (state ${pc.connectionState})`)), timeoutMs);
    pc.connectionStateChange.subscribe((s) => {
      if (s === 'connected') {
        clearTimeout(t);
        resolve();
      }
      if (s === 'failed') {
        clearTimeout(t);
        reject(new Error(`${who} connection failed`));
      }
    });
  });
}

/**
 * POSTs `offer` to `url`, applies the answer and waits for the connection; the resource URL
 * (Location, absolute) and the answer. Throws with the response when the status is not 201.
 */
export async function exchangeOffer(
  pc: RTCPeerConnection,
  options: { url: string; offer: string; token?: string; headers?: Record<string, string>; who: string; connectTimeoutMs: number },
): Promise<{ location: string | undefined; answer: string }> {
  const res = await postOffer(options.url, options.offer, options.token, options.headers);
  if (res.status !== 201) {
    throw Object.assign(new Error(`${options.who} POST answered ${res.status}: ${res.body.slice(0, 500)}`), { response: res });
  }
  const location = res.headers.get('location');
  await pc.setRemoteDescription({ type: 'answer', sdp: res.body });
  await whenConnected(pc, options.who, options.connectTimeoutMs);
  return { location: location ? new URL(location, res.url).toString() : undefined, answer: res.body };
}
