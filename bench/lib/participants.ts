/**
 * The bench's call participants: WHIP publishers sending a solid colour (VP8 640x360) and a tone
 * (Opus), as test/support/publisher.ts does, joined to a call and made to leave the WHIP way.
 */
import { TestPublisher } from '../../test/support/publisher.js';
import { createCall, waitQuiet, whipLeave, type Call, type RunContext } from './scenario.js';

export const COLOURS = ['red', 'green', 'blue', 'yellow'] as const;
export const toneOf = (i: number) => 300 + 100 * i;

export interface JoinedCall {
  call: Call;
  publishers: TestPublisher[];
  /** Every publisher leaves; then waits until the service runs no media process. */
  leave(): Promise<void>;
}

/** Creates call `id` with `count` members, each publishing over WHIP (the call is yours to use meanwhile). */
export async function callWithPublishers(ctx: RunContext, id: string, count: number): Promise<JoinedCall> {
  const { service } = ctx;
  const members = Array.from({ length: count }, (_, i) => `${id}-p${i}`);
  const call = await createCall(service.client, id, members);
  const publishers: TestPublisher[] = [];
  const leave = async () => {
    for (const p of publishers) {
      await whipLeave(ctx, p.location);
      await p.close();
    }
    await waitQuiet(ctx);
  };
  try {
    for (let i = 0; i < count; i++) {
      const token = service.client.generateUserToken({ user_id: members[i]!, validity_in_seconds: 3600 });
      publishers.push(
        await TestPublisher.start({
          url: service.whipUrl('default', id),
          token,
          color: COLOURS[i % COLOURS.length]!,
          size: { width: 640, height: 360 },
          toneHz: toneOf(i),
        }),
      );
    }
  } catch (err) {
    await leave();
    throw err;
  }
  return { call, publishers, leave };
}
