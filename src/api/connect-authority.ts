/**
 * What the coordinator WebSocket needs from the control plane: user token verification, the
 * user upsert from `user_details`, and who may read which call's events.
 */
import type { CallService } from '../calls/service.js';
import { fullUserResponse } from '../calls/responses.js';
import { userFromDetails } from '../calls/users.js';
import type { ConnectAuthority, ConnectedUser } from '../events/contract.js';
import type { Store } from '../store/store.js';
import { verifyToken, type Principal } from './auth.js';
import { errorBody, unauthenticated, ApiError } from './errors.js';

function principalOf(user: ConnectedUser): Principal {
  const p: { kind: 'user'; userId: string; role?: string; callCids?: string[] } = { kind: 'user', userId: user.id };
  if (user.callCids) {
    p.callCids = user.callCids;
    if (user.role !== 'user') p.role = user.role;
  }
  return p;
}

export class StoreConnectAuthority implements ConnectAuthority {
  constructor(
    private readonly deps: { store: Store; service: CallService; apiSecret: string },
  ) {}

  async authenticate(token: string): Promise<ConnectedUser> {
    try {
      const principal = await verifyToken(token, this.deps.apiSecret);
      if (principal.kind !== 'user') throw unauthenticated('a server token cannot open a user connection');
      const stored = await this.deps.store.getUser(principal.userId);
      const user: ConnectedUser = { id: principal.userId, role: principal.role ?? stored?.role ?? 'user' };
      if (principal.callCids) user.callCids = principal.callCids;
      return user;
    } catch (err) {
      if (err instanceof ApiError) throw errorBody('WSConnect', err, 0);
      throw err;
    }
  }

  async upsertConnectedUser(user: ConnectedUser, details: Record<string, unknown>): Promise<Record<string, unknown>> {
    const now = new Date().toISOString();
    const existing = await this.deps.store.getUser(user.id);
    const record = userFromDetails(user.id, details, now, existing);
    await this.deps.store.upsertUsers([record]);
    return fullUserResponse(record);
  }

  async canReadCall(user: ConnectedUser, callCid: string): Promise<boolean> {
    if (user.callCids?.includes(callCid)) return true;
    const call = await this.deps.store.getCall(callCid);
    if (!call) return false;
    const callType = await this.deps.store.getCallType(call.type);
    if (!callType) return false;
    const caps = await this.deps.service.capabilitiesIn(principalOf(user), callType, callCid);
    return caps.includes('read-call');
  }
}
