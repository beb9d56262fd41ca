/**
 * Event fan-out between nodes: every event published on this node's bus goes to Redis as well,
 * and the events of the other nodes come back into `bus` here, so a WebSocket client on any node
 * receives the events of every call it may read. Only WebSocket clients subscribe to `bus`:
 * webhooks stay on the local bus (the node that produced an event queues its webhook, once), and
 * so do the units that keep state of the calls this node serves.
 * Pub/sub is at most once: events published while Redis is away reach this node's clients only.
 */
import type { Redis } from 'ioredis';
import { InProcessEventBus } from '../events/bus.js';
import type { EventBus, EventHandler, NewEvent, WireEvent } from '../events/contract.js';
import { describeError, type Logger } from '../log.js';
import { keys } from './keys.js';

interface Envelope {
  node: string;
  event: WireEvent;
}

export class ClusterEvents {
  /** Local and remote events, for WebSocket clients. */
  readonly bus: EventBus;
  private readonly remote: InProcessEventBus;
  private readonly unsubscribe: () => void;
  private readonly onMessage: (channel: string, message: string) => void;

  constructor(
    local: EventBus,
    private readonly conn: { pub: Redis; sub: Redis },
    private readonly nodeId: () => string,
    private readonly log: Logger,
  ) {
    this.remote = new InProcessEventBus({ log });
    this.unsubscribe = local.subscribe((event) => this.forward(event));
    this.onMessage = (channel, message) => {
      if (channel !== keys.events) return;
      let envelope: Envelope;
      try {
        envelope = JSON.parse(message) as Envelope;
      } catch {
        return;
      }
      if (envelope.node === this.nodeId() || !envelope.event || typeof envelope.event.type !== 'string') return;
      this.remote.publish(envelope.event);
    };
    conn.sub.on('message', this.onMessage);
    const remote = this.remote;
    this.bus = {
      publish: (input: NewEvent) => local.publish(input),
      subscribe: (handler: EventHandler) => {
        const a = local.subscribe(handler);
        const b = remote.subscribe(handler);
        return () => {
          a();
          b();
        };
      },
    };
  }

  async start(): Promise<void> {
    await this.conn.sub.subscribe(keys.events);
  }

  close(): void {
    this.unsubscribe();
    this.conn.sub.off('message', this.onMessage);
  }

  private forward(event: WireEvent): void {
    const envelope: Envelope = { node: this.nodeId(), event };
    this.conn.pub.publish(keys.events, JSON.stringify(envelope)).catch((err: unknown) => {
      this.log.debug?.({ eventType: event.type, err: describeError(err) }, 'event not fanned out (Redis away)');
    });
  }
}
