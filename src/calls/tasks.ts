/**
 * Stream runs some deletions as asynchronous tasks and answers with a `task_id` that clients poll
 * (`GET /api/v2/tasks/{id}`, the SDK's `getTask`). Callcast does the work within the request and
 * records the finished task here, so the id it answers resolves to `completed` (or `failed`) with
 * its result. Kept in memory, bounded in count and age: a task id is for polling right after the
 * request, not an archive.
 */
import { randomUUID } from 'node:crypto';
import { notFound } from '../wire/errors.js';
import type { JsonObject } from '../wire/json.js';

export interface TaskRecord {
  task_id: string;
  status: 'completed' | 'failed';
  created_at: string;
  updated_at: string;
  result?: JsonObject;
  error?: { type: string; description: string };
}

export interface TaskLogOptions {
  /** How many finished tasks are kept (oldest dropped first). */
  maxTasks?: number;
  /** How long a finished task is kept, in ms. */
  maxAgeMs?: number;
  now?: () => Date;
}

export class TaskLog {
  private readonly tasks = new Map<string, { record: TaskRecord; at: number }>();
  private readonly maxTasks: number;
  private readonly maxAgeMs: number;
  private readonly now: () => Date;

  constructor(opts: TaskLogOptions = {}) {
    this.maxTasks = opts.maxTasks ?? 1000;
    this.maxAgeMs = opts.maxAgeMs ?? 24 * 3600_000;
    this.now = opts.now ?? (() => new Date());
  }

  /** Records a finished task; its id. */
  finished(outcome: { result: JsonObject } | { error: string }): string {
    const at = this.now();
    const stamp = at.toISOString();
    const record: TaskRecord = {
      task_id: randomUUID(),
      status: 'result' in outcome ? 'completed' : 'failed',
      created_at: stamp,
      updated_at: stamp,
    };
    if ('result' in outcome) record.result = outcome.result;
    else record.error = { type: 'error', description: outcome.error };
    this.tasks.set(record.task_id, { record, at: at.getTime() });
    this.prune(at.getTime());
    return record.task_id;
  }

  /** The task (404 code 16 when unknown or dropped). */
  get(id: string): TaskRecord {
    this.prune(this.now().getTime());
    const t = this.tasks.get(id);
    if (!t) throw notFound(`task ${id} does not exist`);
    return t.record;
  }

  private prune(nowMs: number): void {
    for (const [id, t] of this.tasks) {
      if (this.tasks.size <= this.maxTasks && nowMs - t.at <= this.maxAgeMs) break;
      this.tasks.delete(id);
    }
  }
}
