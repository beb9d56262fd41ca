/**
 * Network namespaces for tests whose peers need a non-loopback address: two namespaces joined by a
 * veth pair, with addresses in 10.x that exist only inside the pair (never on the host's
 * interfaces), loopback up in both. `remove()` deletes both namespaces (and so the veth pair).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface NetnsPair {
  /** namespace of the service */
  server: string;
  /** namespace of the publisher */
  publisher: string;
  serverAddress: string;
  publisherAddress: string;
  /** an address of the pair's own subnet with no interface, usable as a NAT's public address */
  spareAddress: string;
  /** runs a command inside one of the namespaces */
  exec(ns: string, cmd: string[]): Promise<string>;
  remove(): Promise<void>;
}

async function ip(args: string[]): Promise<string> {
  const { stdout } = await execFileP('ip', args, { timeout: 10_000 });
  return stdout;
}

/** Whether this process may create network namespaces; the reason when not. */
export async function netnsPermitted(): Promise<{ ok: true } | { ok: false; why: string }> {
  const name = `cc-probe-${process.pid}`;
  try {
    await ip(['netns', 'add', name]);
    await ip(['netns', 'del', name]);
    return { ok: true };
  } catch (err) {
    return { ok: false, why: `network namespaces are not permitted here (ip netns add: ${String((err as Error).message).split('\n')[0]})` };
  }
}

export async function createNetnsPair(tag: string): Promise<NetnsPair> {
  const n = process.pid % 250;
  const server = `cc-${tag}-s${process.pid}`;
  const publisher = `cc-${tag}-p${process.pid}`;
  const vs = `ccs${process.pid % 100000}`;
  const vp = `ccp${process.pid % 100000}`;
  const serverAddress = `10.213.${n}.1`;
  const publisherAddress = `10.213.${n}.2`;
  const spareAddress = `10.214.${n}.7`;
  const remove = async () => {
    for (const ns of [server, publisher]) await ip(['netns', 'del', ns]).catch(() => undefined);
  };
  try {
    await ip(['netns', 'add', server]);
    await ip(['netns', 'add', publisher]);
    await ip(['link', 'add', vs, 'netns', server, 'type', 'veth', 'peer', 'name', vp, 'netns', publisher]);
    for (const [ns, dev, addr] of [
      [server, vs, serverAddress],
      [publisher, vp, publisherAddress],
    ] as const) {
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      await ip(['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev]);
      await ip(['-n', ns, 'link', 'set', dev, 'up']);
    }
  } catch (err) {
    await remove();
    throw err;
  }
  return {
    server,
    publisher,
    serverAddress,
    publisherAddress,
    spareAddress,
    exec: async (ns, cmd) => (await execFileP('ip', ['netns', 'exec', ns, ...cmd], { timeout: 20_000 })).stdout,
    remove,
  };
}
