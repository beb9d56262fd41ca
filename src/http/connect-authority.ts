/**
 * What the coordinator WebSocket needs from the control plane: the user token of the auth message
 * (Credentials), the user upsert from `user_details` (UserService), and who may receive which
 * call's events (Access).
 */
import type { Access } from '../calls/access.js';
import type { UserService } from '../calls/users.js';
import type { ConnectAuthority, ConnectedUser } from '../events/contract.js';
import { unauthenticated } from '../wire/errors.js';
import type { JsonObject } from '../wire/json.js';
import type { UserPrincipal } from '../wire/principal.js';
import type { Credentials } from './auth.js';

export class CallsConnectAuthority implements ConnectAuthority {
  constructor(
    private readonly deps: { credentials: Credentials; users: UserService; access: Access },
  ) {}

  /** Throws the wire contract's ApiError (401) for a bad or a server token. */
  async authenticate(token: string): Promise<ConnectedUser> {
    const principal = await this.deps.credentials.verify(token);
    if (principal.kind !== 'user') throw unauthenticated('a server token cannot open a user connection');
    const user: ConnectedUser = { id: principal.userId, role: principal.role ?? (await this.deps.users.roleOf(principal.userId)) };
    if (principal.callCids) user.callCids = principal.callCids;
    return user;
  }

  upsertConnectedUser(user: ConnectedUser, details: JsonObject): Promise<JsonObject> {
    return this.deps.users.connect(user.id, details);
  }

  canReadCall(user: ConnectedUser, callCid: string): Promise<boolean> {
    return this.deps.access.mayReceiveEvents(principalOf(user), callCid);
  }
}

/** The principal a connected user speaks as (a call token's role counts in its calls only). */
function principalOf(user: ConnectedUser): UserPrincipal {
  const p: UserPrincipal = { kind: 'user', userId: user.id };
  if (user.callCids) {
    p.callCids = user.callCids;
    if (user.role !== 'user') p.role = user.role;
  }
  return p;
}
