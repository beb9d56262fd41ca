/**
 * Contracts of the event plane: the in-process bus, the durable webhook outbox (implemented by the
 * store) and what the WebSocket endpoint needs from the control plane (implemented by src/calls).
 */

/** An event as sent on the wire (WebSocket and webhook body). Timestamps are RFC3339 strings. */
export interface WireEvent {
  type: string;
  created_at: string;
  call_cid?: string;
  [key: string]: unknown;
}

/** An event as its publisher hands it to the bus: `created_at` is stamped by the bus when absent. */
export interface NewEvent {
  type: string;
  created_at?: string;
  call_cid?: string;
  [key: string]: unknown;
}

export type EventHandler = (event: WireEvent) => void;

export interface EventBus {
  /** Stamps `created_at` (unless the event has one) and hands the event to every subscriber. */
  publish(event: NewEvent): void;
  /** Returns an unsubscribe function. */
  subscribe(handler: EventHandler): () => void;
}

/** One webhook delivery. `body` is the exact JSON that is signed and sent. */
export interface WebhookDelivery {
  /** Sent as X-WEBHOOK-ID; the same across retries. */
  id: string;
  url: string;
  body: string;
  /** Attempts already made (0 before the first). */
  attempts: number;
  /** Epoch ms when the next attempt is due. */
  nextAttemptAt: number;
  /** Epoch ms when the delivery was created. */
  createdAt: number;
  /**
   * Deliveries of one key (the call's cid; '' for events of no call) are sent one at a time in
   * `seq` order: a later one waits until the earlier is delivered or parked as dead.
   */
  orderKey: string;
  /** Increases with publish order (within and across restarts). */
  seq: number;
  /** Epoch ms the retry horizon counts from: creation, or the last replay. */
  retryFrom: number;
}

/** A delivery parked after its retry horizon (or refused by the receiver), kept for replay. */
export interface DeadWebhookDelivery extends WebhookDelivery {
  /** Epoch ms when it was parked. */
  deadAt: number;
  /** Why (last outcome), without URL secrets. */
  reason: string;
}

/** Which dead deliveries a replay puts back: one by id, or all of them. */
export type ReplaySelection = { id: string } | { all: true };

/** Durable storage of deliveries, so a restart loses none. Implemented in src/store. */
export interface WebhookOutbox {
  /**
   * True when `due` claims what it returns (several dispatchers share the outbox: a claimed
   * delivery is not due for the others until its claim runs out); the dispatcher then asks only
   * for as many as it can send at once.
   */
  readonly claims?: boolean;
  add(delivery: WebhookDelivery): Promise<void>;
  /**
   * Pending deliveries with nextAttemptAt <= now that are the oldest pending one of their order
   * key, in seq order, at most `limit`.
   */
  due(now: number, limit: number): Promise<WebhookDelivery[]>;
  reschedule(id: string, attempts: number, nextAttemptAt: number): Promise<void>;
  remove(id: string): Promise<void>;
  /** Parks a delivery as dead (it no longer holds back later deliveries of its key). */
  markDead(id: string, attempts: number, deadAt: number, reason: string): Promise<void>;
  /** Dead deliveries, oldest first. */
  listDead(limit: number): Promise<DeadWebhookDelivery[]>;
  countDead(): Promise<number>;
  /** Makes dead deliveries pending again (due at `now`, horizon from `now`); returns how many. */
  replayDead(selection: ReplaySelection, now: number): Promise<number>;
}

/** Where webhooks go and which event types (empty list = all). */
export interface WebhookTarget {
  url: string;
  events: string[];
}

/** A user authenticated on the WebSocket. */
export interface ConnectedUser {
  id: string;
  role: string;
  /** From a call token's call_cids; undefined when the token had none. */
  callCids?: string[];
  /** When the token expires (epoch seconds); the connection is closed then. */
  expiresAt?: number;
}

/**
 * Who receives a call's events in full: `operator` (may start or stop its broadcasts: stream keys
 * and failure details included) or `viewer` (the same events without those secrets).
 */
export type CallAudience = 'operator' | 'viewer';

/** What the WebSocket endpoint needs from the control plane. */
export interface ConnectAuthority {
  /** Verifies a user token (as sent in the WS auth message). Throws an ApiError-like object on failure. */
  authenticate(token: string): Promise<ConnectedUser>;
  /** Upserts the user from `user_details` and returns the OwnUserResponse-like `me` object. */
  upsertConnectedUser(user: ConnectedUser, details: Record<string, unknown>): Promise<Record<string, unknown>>;
  /**
   * Whether the user may receive this call's events (member, call token, or read-call grant) and
   * as which audience; null when not at all.
   */
  audienceIn(user: ConnectedUser, callCid: string): Promise<CallAudience | null>;
  /** The event as that audience sees it (secrets left out for viewers). */
  shapeEvent(event: WireEvent, audience: CallAudience): WireEvent;
}
