import { createHmac, randomUUID } from 'node:crypto';
import { isStoreUnavailable, retryWhileUnavailable } from '../store/availability.js';
import type { EventBus, WebhookDelivery, WebhookOutbox, WebhookTarget, WireEvent } from './contract.js';
import { redactUrl } from './webhook-url.js';
import { describeError, type Logger } from '../log.js';
import {
  DEFAULT_WEBHOOK_RETRY_POLICY,
  describeOutcome,
  nextAttempt,
  type AttemptOutcome,
  type WebhookRetryPolicy,
} from './webhook-policy.js';

export {
  backoffAfter,
  DEFAULT_WEBHOOK_RETRY_HORIZON_MS,
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
  /** Overrides of the retry policy (the horizon comes from CALLCAST_WEBHOOK_RETRY_HORIZON; tests compress the rest). */
  policy?: Partial<WebhookRetryPolicy>;
  /** Requests in flight at once (to different calls: one call's deliveries go one at a time). */
  maxConcurrent?: number;
  now?: () => number;
  random?: () => number;
}

type AttemptResult = { kind: 'outcome'; outcome: AttemptOutcome } | { kind: 'stopped' };

/**
 * Sends every bus event the webhook target wants as a signed POST. Each event first becomes a
 * delivery in the durable outbox (retried there while the store is away), then a delivery loop
 * sends the due ones and records each result: removed when delivered, rescheduled with backoff
 * for the retry horizon, then parked as dead (kept, counted, replayable with
 * `callcast webhooks replay`). Deliveries of one call go out one at a time, in publish order.
 * Deliveries left in the outbox by an earlier process are sent when the loop starts.
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
  private readonly random: () => number;

  private running = false;
  private unsubscribe: (() => void) | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private readonly wakeTimers = new Set<NodeJS.Timeout>();
  /** Serialises intake so deliveries enter the outbox in publish order. */
  private intake: Promise<void> = Promise.resolve();
  private intakePending = 0;
  private readonly inFlight = new Map<string, Promise<void>>();
  private stopController = new AbortController();
  private draining: Promise<void> | null = null;
  private drainAgain = false;
  private lastSeq = 0;
  private storeAway = false;
  private parkedSinceStart = 0;
  private lastDeadCount = 0;

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
    this.random = opts.random ?? Math.random;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopController = new AbortController();
    this.unsubscribe = this.bus.subscribe((event) => this.accept(event));
    this.pollTimer = setInterval(() => this.wake(), this.pollIntervalMs);
    this.pollTimer.unref();
    this.wake();
  }

  /**
   * Stops taking events, lets pending intake reach the outbox (unless the store is away: those
   * events are logged as lost), aborts requests in flight (their deliveries stay in the outbox, to
   * be sent again by the next start) and waits for the loop.
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

  /** Deliveries parked as dead by this dispatcher since it started. */
  get parkedTotal(): number {
    return this.parkedSinceStart;
  }

  /** Dead deliveries in the outbox now (the last known count while the store is away). */
  async deadCount(): Promise<number> {
    try {
      this.lastDeadCount = await this.outbox.countDead();
    } catch {
      // the store is away: report the last count read
    }
    return this.lastDeadCount;
  }

  /** Prometheus lines for /metrics. */
  async metricsText(): Promise<string> {
    const dead = await this.deadCount();
    return [
      '# HELP callcast_webhook_dead Webhook deliveries parked as dead in the outbox (replay with `callcast webhooks replay`).',
      '# TYPE callcast_webhook_dead gauge',
      `callcast_webhook_dead ${dead}`,
      '# HELP callcast_webhook_dead_total Webhook deliveries parked as dead since the process started.',
      '# TYPE callcast_webhook_dead_total counter',
      `callcast_webhook_dead_total ${this.parkedSinceStart}`,
      '# HELP callcast_webhook_intake_pending Events waiting to enter the outbox (the store is away while this grows).',
      '# TYPE callcast_webhook_intake_pending gauge',
      `callcast_webhook_intake_pending ${this.intakePending}`,
      '',
    ].join('\n');
  }

  private accept(event: WireEvent): void {
    if (!this.running) return;
    // Order and creation time are fixed when the event is published, not when the store takes it.
    const createdAt = this.now();
    this.lastSeq = Math.max(this.lastSeq + 1, createdAt * 1000);
    const seq = this.lastSeq;
    this.intakePending++;
    this.intake = this.intake
      .then(() =>
        retryWhileUnavailable(() => this.enqueue(event, createdAt, seq), {
          log: this.log,
          what: 'webhook delivery',
          abandoned: () => !this.running,
        }),
      )
      .catch((err: unknown) => {
        this.log.error({ eventType: event.type, err: describeError(err) }, 'webhook delivery could not be stored; event not sent');
      })
      .finally(() => {
        this.intakePending--;
      });
  }

  private async enqueue(event: WireEvent, createdAt: number, seq: number): Promise<void> {
    const target = await this.target();
    if (!target || !target.url) return;
    if (!targetWantsEvent(target, event.type)) return;
    const delivery: WebhookDelivery = {
      id: randomUUID(),
      url: target.url,
      body: JSON.stringify(event),
      attempts: 0,
      nextAttemptAt: createdAt,
      createdAt,
      orderKey: typeof event.call_cid === 'string' ? event.call_cid : '',
      seq,
      retryFrom: createdAt,
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
      .then(
        () => {
          if (this.storeAway) this.log.info({}, 'webhook outbox readable again');
          this.storeAway = false;
        },
        (err: unknown) => {
          // Logged once per outage, not at every poll.
          if (isStoreUnavailable(err)) {
            if (!this.storeAway) this.log.warn({ err: describeError(err) }, 'webhook outbox unavailable (store away); deliveries wait');
            this.storeAway = true;
          } else {
            this.log.error({ err: describeError(err) }, 'webhook outbox could not be read');
          }
        },
      )
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
      // A claiming outbox returns no delivery in flight here; another outbox returns them too.
      const due = await this.outbox.due(this.now(), this.outbox.claims ? free : free + this.inFlight.size);
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
    const logCtx = { webhookId: delivery.id, url: redactUrl(delivery.url) };
    try {
      const attempt = delivery.attempts + 1;
      const result = await this.send(delivery, attempt, this.policy.requestTimeoutMs);
      if (result.kind === 'stopped') {
        // Stays in the outbox for the next start; a claim is given back, so another node sends it now.
        if (this.outbox.claims) await this.outbox.reschedule(delivery.id, delivery.attempts, this.now()).catch(() => undefined);
        return;
      }
      const step = nextAttempt(
        { outcome: result.outcome, attempts: attempt, retryFrom: delivery.retryFrom, now: this.now(), random: this.random },
        this.policy,
      );
      const outcomeCtx = { ...logCtx, attempt, outcome: describeOutcome(result.outcome) };
      // The outcome must reach the outbox: a delivered one must not be sent again, a parked one
      // must be kept. While the store is away this waits (the call's later deliveries wait too).
      const record = (what: string, write: () => Promise<void>) =>
        retryWhileUnavailable(write, { log: this.log, what, abandoned: () => !this.running });
      switch (step.action) {
        case 'done':
          await record('webhook delivered', () => this.outbox.remove(delivery.id));
          this.log.debug?.(outcomeCtx, 'webhook delivered');
          return;
        case 'dead':
          await record('webhook parked', () => this.outbox.markDead(delivery.id, attempt, this.now(), step.reason));
          this.parkedSinceStart++;
          this.log.warn(
            { ...outcomeCtx, eventType: eventTypeOf(delivery.body), reason: step.reason },
            'webhook delivery parked as dead (replay with `callcast webhooks replay`)',
          );
          return;
        case 'retry':
          await record('webhook retry', () => this.outbox.reschedule(delivery.id, attempt, step.at));
          this.log.info({ ...outcomeCtx, retryInMs: step.at - this.now() }, 'webhook attempt failed; will retry');
          this.wakeAt(step.at);
          return;
      }
    } catch (err) {
      // The outbox failed (or the dispatcher stopped while the store was away); the delivery
      // stays there and is tried again by a later pass.
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
