import type { EventBus, EventHandler, NewEvent, WireEvent } from './contract.js';
import { describeError, silentLogger, type Logger } from '../log.js';

/**
 * The embedded event bus: stamps `created_at`, then fans out synchronously to every subscriber,
 * in subscription order.
 * A subscriber that throws is logged and skipped; it never breaks `publish` or the other
 * subscribers. Subscribers that need to do I/O must queue the event and return at once.
 * A published event is shared by every subscriber and must not be changed afterwards (the
 * WebSocket endpoint serialises each event once for all connections).
 */
export class InProcessEventBus implements EventBus {
  private readonly handlers = new Set<EventHandler>();
  private readonly log: Logger;
  private readonly now: () => Date;

  constructor(opts: { log?: Logger; now?: () => Date } = {}) {
    this.log = opts.log ?? silentLogger;
    this.now = opts.now ?? (() => new Date());
  }

  /** The one place events get their `created_at` (kept when the publisher set one). */
  publish(input: NewEvent): void {
    const event: WireEvent = { ...input, created_at: input.created_at ?? this.now().toISOString() };
    // Iterate over a snapshot: a handler may subscribe or unsubscribe while we fan out.
    for (const handler of [...this.handlers]) {
      if (!this.handlers.has(handler)) continue;
      try {
        handler(event);
      } catch (err) {
        this.log.error({ eventType: event.type, err: describeError(err) }, 'event subscriber failed');
      }
    }
  }

  subscribe(handler: EventHandler): () => void {
    // Wrap so the same function may be subscribed twice and unsubscribed independently.
    const entry: EventHandler = (event) => handler(event);
    this.handlers.add(entry);
    return () => {
      this.handlers.delete(entry);
    };
  }

  /** Number of live subscriptions (for health reporting and tests). */
  get subscriberCount(): number {
    return this.handlers.size;
  }
}
