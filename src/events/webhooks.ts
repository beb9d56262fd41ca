import { createHmac, randomUUID } from 'node:crypto';
import type { EventBus, WebhookDelivery, WebhookOutbox, WebhookTarget, WireEvent } from './contract.js';
import { describeError, type Logger } from '../log.js';
import {
  attemptTimeout,
  DEFAULT_WEBHOOK_RETRY_POLICY,
  nextAttempt,
  type AttemptOutcome,
  type WebhookRetryPolicy,
} from './webhook-policy.js';

export {
  attemptTimeout,
  backoffAfter,
  DEFAULT_WEBHOOK_RETRY_POLICY,
  isRetryableStatus,
  nextAttempt,
  type AttemptOutcome,
  type NextStep,
  type WebhookRetryPolicy,
} from './webhook-policy.js';

/** X-SIGNATURE: lowercase hex HMAC-SHA256 of the exact body, keyed with the API secret. */
export function signWebhookBody(body: string, secret: string): string {
  return createHmac('sha256', secret).update(body, 'utf8').digest('hex');
}

/** The headers of one webhook request. */
export function webhookHeaders(
  delivery: Pick<WebhookDelivery, 'id' | 'body'>,
  attempt: number,
  apiKey: string,
  apiSecret: string,
): Record<string, string> {
  return {
    'Content-Type': 'application/json',
    'X-SIGNATURE': signWebhookBody(delivery.body, apiSecret),
    'X-WEBHOOK-ID': delivery.id,
    'X-WEBHOOK-ATTEMPT': String(attempt),
    'X-API-KEY': apiKey,
  };
}

/** Whether the target wants this event type (an empty list, or one holding "*", means all). */
export function targetWantsEvent(target: WebhookTarget, eventType: string): boolean {
  return target.events.length === 0 || target.events.includes('*') || target.events.includes(eventType);
}

/** A webhook URL for logs: no credentials, query or fragment (they may carry tokens). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '<invalid url>';
  }
}

export interface WebhookDispatcherOptions {
  bus: EventBus;
  outbox: WebhookOutbox;
  apiKey: string;
  apiSecret: string;
  /** The current webhook target, read for every event (null: webhooks are off). */
  target: () => Promise<WebhookTarget | null>;
  log: Logger;
  fetch?: typeof fetch;
  /** How often the outbox is polled for due deliveries (besides the wake-ups on new events and retries). */
  pollIntervalMs?: number;
  /** Overrides of the retry policy (tests use short timeouts; the defaults are the reference's). */
  policy?: Partial<WebhookRetryPolicy>;
  /** Requests in flight at once. */
  maxConcurrent?: number;
  now?: () => number;
}

type AttemptResult = { kind: 'outcome'; outcome: AttemptOutcome } | { kind: 'stopped' };

/**
 * Sends every bus event the webhook target wants as a signed POST. Each event first becomes a
 * delivery in the durable outbox, then a delivery loop sends the due ones and records each
 * result (removed when delivered or given up, rescheduled for a retry). Deliveries left in the
 * outbox by an earlier process are sent when the loop starts.
 */
export class WebhookDispatcher {
  private readonly bus: EventBus;
  private readonly outbox: WebhookOutbox;
  private readonly apiKey: string;
  private readonly apiSecret: string;
  private readonly target: () => Promise<WebhookTarget | null>;
  private readonly log: Logger;
  private readonly fetchFn: typeof fetch;
  private readonly pollIntervalMs: number;
  private readonly policy: WebhookRetryPolicy;
  private readonly maxConcurrent: number;
  private readonly now: () => number;

  private running = false;
  private startedAt = 0;
  private unsubscribe: (() => void) | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private readonly wakeTimers = new Set<NodeJS.Timeout>();
  /** Serialises intake so deliveries enter the outbox in publish order. */
  private intake: Promise<void> = Promise.resolve();
  private readonly inFlight = new Map<string, Promise<void>>();
  private stopController = new AbortController();
  private draining: Promise<void> | null = null;
  private drainAgain = false;

  constructor(opts: WebhookDispatcherOptions) {
    this.bus = opts.bus;
    this.outbox = opts.outbox;
    this.apiKey = opts.apiKey;
    this.apiSecret = opts.apiSecret;
    this.target = opts.target;
    this.log = opts.log;
    this.fetchFn = opts.fetch ?? globalThis.fetch;
    this.pollIntervalMs = opts.pollIntervalMs ?? 1_000;
    this.policy = { ...DEFAULT_WEBHOOK_RETRY_POLICY, ...opts.policy };
    this.maxConcurrent = Math.max(1, opts.maxConcurrent ?? 8);
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopController = new AbortController();
    // Deliveries already in the outbox (left by a restart) get their 15 s budget counted from
    // now rather than from their creation: losing none matters more than the cap.
    this.startedAt = this.now();
    this.unsubscribe = this.bus.subscribe((event) => this.accept(event));
    this.pollTimer = setInterval(() => this.wake(), this.pollIntervalMs);
    this.pollTimer.unref();
    this.wake();
  }

  /**
   * Stops taking events, lets pending intake reach the outbox, aborts requests in flight (their
   * deliveries stay in the outbox, to be sent again by the next start) and waits for the loop.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    for (const t of this.wakeTimers) clearTimeout(t);
    this.wakeTimers.clear();
    await this.intake;
    this.stopController.abort();
    await Promise.allSettled([...this.inFlight.values()]);
    await this.draining;
  }

  private accept(event: WireEvent): void {
    if (!this.running) return;
    this.intake = this.intake.then(() => this.enqueue(event)).catch((err: unknown) => {
      this.log.error({ eventType: event.type, err: describeError(err) }, 'webhook delivery could not be stored; event not sent');
    });
  }

  private async enqueue(event: WireEvent): Promise<void> {
    const target = await this.target();
    if (!target || !target.url) return;
    if (!targetWantsEvent(target, event.type)) return;
    const now = this.now();
    const delivery: WebhookDelivery = {
      id: randomUUID(),
      url: target.url,
      body: JSON.stringify(event),
      attempts: 0,
      nextAttemptAt: now,
      createdAt: now,
    };
    await this.outbox.add(delivery);
    this.log.debug?.({ webhookId: delivery.id, eventType: event.type }, 'webhook delivery queued');
    this.wake();
  }

  /** Runs the delivery loop now (or once more after the current pass). */
  private wake(): void {
    if (!this.running) return;
    if (this.draining) {
      this.drainAgain = true;
      return;
    }
    this.draining = this.drain()
      .catch((err: unknown) => this.log.error({ err: describeError(err) }, 'webhook outbox could not be read'))
      .finally(() => {
        this.draining = null;
        if (this.drainAgain) {
          this.drainAgain = false;
          this.wake();
        }
      });
  }

  private async drain(): Promise<void> {
    do {
      this.drainAgain = false;
      if (!this.running) return;
      const free = this.maxConcurrent - this.inFlight.size;
      if (free <= 0) return; // a finishing attempt wakes the loop again
      const due = await this.outbox.due(this.now(), free + this.inFlight.size);
      for (const delivery of due) {
        if (!this.running || this.inFlight.size >= this.maxConcurrent) break;
        if (this.inFlight.has(delivery.id)) continue;
        const run = this.deliverOnce(delivery).finally(() => {
          this.inFlight.delete(delivery.id);
          this.wake();
        });
        this.inFlight.set(delivery.id, run);
      }
    } while (this.drainAgain);
  }

  private async deliverOnce(delivery: WebhookDelivery): Promise<void> {
    const budgetStart = Math.max(delivery.createdAt, this.startedAt);
    const logCtx = { webhookId: delivery.id, url: redactUrl(delivery.url) };
    try {
      const timeout = attemptTimeout({ attemptsMade: delivery.attempts, budgetStart, now: this.now() }, this.policy);
      if (timeout === null) {
        this.log.warn({ ...logCtx, attempts: delivery.attempts }, 'webhook delivery given up: time budget spent');
        await this.outbox.remove(delivery.id);
        return;
      }
      const attempt = delivery.attempts + 1;
      const result = await this.send(delivery, attempt, timeout);
      if (result.kind === 'stopped') return; // stays in the outbox for the next start
      const step = nextAttempt({ outcome: result.outcome, attempts: attempt, budgetStart, now: this.now() }, this.policy);
      const outcomeCtx = { ...logCtx, attempt, outcome: describeOutcome(result.outcome) };
      switch (step.action) {
        case 'done':
          await this.outbox.remove(delivery.id);
          this.log.debug?.(outcomeCtx, 'webhook delivered');
          return;
        case 'give_up':
          await this.outbox.remove(delivery.id);
          this.log.warn({ ...outcomeCtx, eventType: eventTypeOf(delivery.body), reason: step.reason }, 'webhook delivery given up');
          return;
        case 'retry':
          await this.outbox.reschedule(delivery.id, attempt, step.at);
          this.log.info({ ...outcomeCtx, retryInMs: step.at - this.now() }, 'webhook attempt failed; will retry');
          this.wakeAt(step.at);
          return;
      }
    } catch (err) {
      // The outbox failed; the delivery stays there and is tried again by a later pass.
      this.log.error({ ...logCtx, err: describeError(err) }, 'webhook outbox update failed');
    }
  }

  private async send(delivery: WebhookDelivery, attempt: number, timeoutMs: number): Promise<AttemptResult> {
    const stopSignal = this.stopController.signal;
    if (stopSignal.aborted) return { kind: 'stopped' };
    const timeoutSignal = AbortSignal.timeout(timeoutMs);
    try {
      const res = await this.fetchFn(delivery.url, {
        method: 'POST',
        headers: webhookHeaders(delivery, attempt, this.apiKey, this.apiSecret),
        body: delivery.body,
        redirect: 'manual',
        signal: AbortSignal.any([stopSignal, timeoutSignal]),
      });
      await res.body?.cancel().catch(() => undefined);
      return { kind: 'outcome', outcome: { kind: 'response', status: res.status } };
    } catch (err) {
      if (stopSignal.aborted) return { kind: 'stopped' };
      if (timeoutSignal.aborted) return { kind: 'outcome', outcome: { kind: 'timeout' } };
      this.log.debug?.({ webhookId: delivery.id, attempt, err: describeError(err) }, 'webhook request failed');
      return { kind: 'outcome', outcome: { kind: 'network' } };
    }
  }

  private wakeAt(at: number): void {
    if (!this.running) return;
    // A few ms late on purpose: timers may fire slightly early relative to the wall clock.
    const delay = Math.max(0, at - this.now()) + 5;
    const timer = setTimeout(() => {
      this.wakeTimers.delete(timer);
      this.wake();
    }, delay);
    timer.unref();
    this.wakeTimers.add(timer);
  }
}

function describeOutcome(outcome: AttemptOutcome): string {
  return outcome.kind === 'response' ? `status ${outcome.status}` : outcome.kind;
}

function eventTypeOf(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed && typeof parsed === 'object' && typeof (parsed as { type?: unknown }).type === 'string') {
      return (parsed as { type: string }).type;
    }
  } catch {
    // not JSON: nothing to report
  }
  return undefined;
}
