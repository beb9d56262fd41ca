/**
 * The credentials a layout app gets: a user token for a hidden recorder user of its own
 * (`callcast-recorder-<random>`), valid for this call only (`call_cids`), short-lived (renewed by
 * the frame source while the broadcast runs), with the recorder role: it may read the call and
 * subscribe to its participants, and nothing else (no publishing, no broadcasts), whatever the
 * call type grants. It publishes nothing, so it is never a participant.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { RECORDER_ROLE } from '../../calls/capabilities.js';
import type { RecorderToken } from './browser-frame-source.js';

export const RECORDER_TOKEN_TTL_SECONDS = 3600;

/** A token for `userId` (a new recorder user when absent: renewals keep the same user). */
export async function mintRecorderToken(
  apiSecret: string,
  callCid: string,
  userId = `callcast-recorder-${randomBytes(6).toString('hex')}`,
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<RecorderToken> {
  const iat = nowSeconds - 1;
  const token = await new SignJWT({
    user_id: userId,
    role: RECORDER_ROLE,
    call_cids: [callCid],
    iat,
    exp: iat + RECORDER_TOKEN_TTL_SECONDS,
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(apiSecret));
  return { token, userId };
}
