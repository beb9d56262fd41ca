/**
 * DeleteCall (`POST /video/call/{type}/{id}/delete`, node SDK `call.delete({ hard })`): the call's
 * broadcasts stop first, then a soft delete ends the call and hides it from GetCall and QueryCalls
 * (a later GetOrCreateCall of the same id makes a new call), and a hard delete removes the call,
 * its members and whatever the deletion hooks hold for it (recordings, once they exist). Both
 * publish `call.deleted` with the call as it was when deleted. Server-side auth only: Stream has
 * no capability that lets a user delete a call.
 */
import type { EventBus } from '../events/contract.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import { describeError } from '../log.js';
import type { JsonObject } from '../wire/json.js';
import type { Principal } from '../wire/principal.js';
import type { Access } from './access.js';
import type { BroadcastState } from './broadcasts.js';
import type { CallService } from './calls.js';
import type { TaskLog } from './tasks.js';

/**
 * What else holds data of a call: told before a call's row goes. A hard delete awaits every hook
 * (a recording store removes the call's files here); a failing hook fails the delete's task.
 */
export interface CallDeletionHook {
  callDeleted(cid: string, mode: 'soft' | 'hard'): Promise<void>;
}

export interface CallDeletionOptions {
  store: Store;
  bus: EventBus;
  log: Logger;
  access: Access;
  broadcasts: BroadcastState;
  calls: CallService;
  tasks: TaskLog;
  hooks?: CallDeletionHook[];
  now?: () => Date;
}

export class CallDeletion {
  private readonly hooks: CallDeletionHook[];

  constructor(private readonly opts: CallDeletionOptions) {
    this.hooks = [...(opts.hooks ?? [])];
  }

  /** Deletes the call; `{call, task_id?}` (a hard delete answers the id of its finished task). */
  async delete(principal: Principal, type: string, id: string, hard: boolean): Promise<JsonObject> {
    const { store, access, broadcasts, calls } = this.opts;
    access.requireServer(principal, 'deleting a call');
    const loaded = await access.loadCall(type, id);
    const cid = loaded.call.cid;
    await broadcasts.stopAll(cid);
    const at = (this.opts.now?.() ?? new Date()).toISOString();
    const ended = { ...loaded.call, ended_at: loaded.call.ended_at ?? at, updated_at: at };
    const call = await calls.callJson({ call: ended, callType: loaded.callType });
    const mode = hard ? 'hard' : 'soft';
    let hookError: string | null = null;
    for (const hook of this.hooks) {
      try {
        await hook.callDeleted(cid, mode);
      } catch (err) {
        hookError = describeError(err);
        this.opts.log.error({ callCid: cid, err: hookError }, 'call deletion hook failed');
      }
    }
    if (hard) await store.hardDeleteCall(cid);
    else await store.softDeleteCall(cid, at);
    this.opts.log.info({ callCid: cid, mode }, 'call deleted');
    this.opts.bus.publish({ type: 'call.deleted', call_cid: cid, call });
    const out: JsonObject = { call };
    if (hard) {
      out.task_id = this.opts.tasks.finished(hookError === null ? { result: { call_cid: cid, hard: true } } : { error: hookError });
    }
    return out;
  }
}
