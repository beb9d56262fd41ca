/** QueryCallMembers: one page of a call's members (access `read-call`), as MemberResponses. */
import type { Store } from '../store/store.js';
import type { JsonObject } from '../wire/json.js';
import type { Principal } from '../wire/principal.js';
import type { Access } from './access.js';
import { encodeCursor } from './query.js';
import { pageOfMembers, type MembersQuery } from './members-query.js';
import { memberResponse, unknownUser } from './responses.js';

export class CallMembers {
  constructor(private readonly deps: { store: Store; access: Access }) {}

  /** `{members, next?, prev?}` of the QueryCallMembersResponse. */
  async query(principal: Principal, type: string, id: string, q: MembersQuery): Promise<JsonObject> {
    const loaded = await this.deps.access.requireIn(principal, type, id, 'read-call');
    const all = await this.deps.store.listMembers(loaded.call.cid);
    const page = pageOfMembers(all, q);
    const users = await this.deps.store.getUsers(page.members.map((m) => m.user_id));
    const out: JsonObject = {
      members: page.members.map((m) => memberResponse(m, users.get(m.user_id) ?? unknownUser(m.user_id, m.created_at))),
    };
    if (page.hasMore) out.next = encodeCursor(q.offset + q.limit);
    if (q.offset > 0) out.prev = encodeCursor(Math.max(0, q.offset - q.limit));
    return out;
  }
}
