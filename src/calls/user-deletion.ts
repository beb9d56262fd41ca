/**
 * DeleteUsers (`POST /api/v2/users/delete`, node SDK `client.deleteUsers()`). Stream runs it as an
 * asynchronous task; Callcast does the work within the request and answers the id of the finished
 * task (`GET /api/v2/tasks/{id}` then reads `completed` with the result). Server-side auth only.
 *
 * - `user`: `soft` (default) marks the users deleted: they leave user queries, call views still
 *   show them, an upsert restores them; `hard` (and `pruning`) removes them and their memberships.
 * - `calls`: `soft` / `hard` deletes the calls they created (as DeleteCall: broadcasts first).
 * - `conversations`, `messages`, `files`, `new_channel_owner_id`: chat data, which Callcast does
 *   not hold: nothing to delete. `new_call_owner_id` is refused (400): Callcast does not move calls.
 */
import type { EventBus } from '../events/contract.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import { parseCallCid } from '../wire/call-cid.js';
import { badRequest } from '../wire/errors.js';
import type { JsonObject } from '../wire/json.js';
import type { Principal } from '../wire/principal.js';
import type { Access } from './access.js';
import type { CallDeletion } from './call-deletion.js';
import { userResponse } from './responses.js';
import type { TaskLog } from './tasks.js';

export interface DeleteUsersRequest {
  user_ids: string[];
  user?: 'soft' | 'pruning' | 'hard';
  calls?: 'soft' | 'hard';
  conversations?: 'soft' | 'hard';
  messages?: 'soft' | 'pruning' | 'hard';
  files?: boolean;
  new_call_owner_id?: string;
  new_channel_owner_id?: string;
}

/** How many users one DeleteUsers request may name (as Stream). */
export const MAX_USERS_PER_DELETE = 100;

export class UserDeletion {
  constructor(
    private readonly deps: {
      store: Store;
      bus: EventBus;
      log: Logger;
      access: Access;
      calls: CallDeletion;
      tasks: TaskLog;
      now?: () => Date;
    },
  ) {}

  /** Deletes the users; the id of the finished task. */
  async delete(principal: Principal, req: DeleteUsersRequest): Promise<string> {
    const { store, bus, access, tasks } = this.deps;
    access.requireServer(principal, 'deleting users');
    const ids = [...new Set(req.user_ids)];
    if (ids.length === 0) throw badRequest('user_ids must name at least one user');
    if (ids.length > MAX_USERS_PER_DELETE) throw badRequest(`user_ids accepts at most ${MAX_USERS_PER_DELETE} users per request`);
    if (req.new_call_owner_id !== undefined)
      throw badRequest('new_call_owner_id is not supported by this server (calls keep their creator)');
    const mode = req.user ?? 'soft';
    const hard = mode !== 'soft';
    const found = await store.getUsers(ids);
    const deletedCalls: string[] = [];
    if (req.calls) {
      for (const userId of found.keys()) {
        for (const cid of await this.callsCreatedBy(userId)) {
          const parts = parseCallCid(cid);
          if (!parts) continue;
          await this.deps.calls.delete({ kind: 'server' }, parts.type, parts.id, req.calls === 'hard');
          deletedCalls.push(cid);
        }
      }
    }
    const at = (this.deps.now?.() ?? new Date()).toISOString();
    if (hard) await store.hardDeleteUsers([...found.keys()]);
    else await store.softDeleteUsers([...found.keys()], at);
    for (const user of found.values()) {
      bus.publish({
        type: 'user.deleted',
        user: userResponse({ ...user, updated_at: at }),
        custom: {},
        delete_user: mode,
        delete_conversation: req.conversations ?? '',
        delete_conversation_channels: false,
        delete_messages: req.messages ?? '',
        hard_delete: hard,
        mark_messages_deleted: false,
      });
    }
    this.deps.log.info({ users: found.size, mode, calls: deletedCalls.length }, 'users deleted');
    const result: JsonObject = { user_ids: [...found.keys()], not_found: ids.filter((id) => !found.has(id)), calls: deletedCalls };
    return tasks.finished({ result });
  }

  private async callsCreatedBy(userId: string): Promise<string[]> {
    const cids: string[] = [];
    for (let offset = 0; ; offset += 100) {
      const page = await this.deps.store.queryCalls({
        filter: { kind: 'compare', column: 'created_by_id', op: '$eq', value: userId },
        sort: [{ column: 'created_at', direction: 1 }],
        limit: 100,
        offset,
      });
      cids.push(...page.map((c) => c.cid));
      if (page.length < 100) return cids;
    }
  }
}
