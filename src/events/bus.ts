import type { EventBus, EventHandler, WireEvent } from './contract.js';
import { describeError, silentLogger, type Logger } from '../log.js';

/**
 * The embedded event bus: synchronous fan-out to every subscriber, in subscription order.
 * A subscriber that throws is logged and skipped; it never breaks `publish` or the other
 * subscribers. Subscribers that need to do I/O must queue the event and return at once.
 * A published event is shared by every subscriber and must not be changed afterwards (the
 * WebSocket endpoint serialises each event once for all connections).
 */
export class InProcessEventBus implements EventBus {
  private readonly handlers = new Set<EventHandler>();
  private readonly log: Logger;

  constructor(opts: { log?: Logger } = {}) {
    this.log = opts.log ?? silentLogger;
  }

  publish(event: WireEvent): void {
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
