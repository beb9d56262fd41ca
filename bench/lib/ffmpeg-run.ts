/** Running ffmpeg from the bench: to completion, or until stopped. */
import { spawn, type ChildProcess } from 'node:child_process';

export const ffmpegPath = () => process.env.CALLCAST_FFMPEG || 'ffmpeg';

/** Runs ffmpeg to its end; rejects with its last error line on a failure or after `timeoutMs` (then killed). */
export function runFfmpeg(args: string[], timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-2000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${what} failed (${signal ?? `exit ${code}`}): ${err.trim().split('\n').pop() ?? ''}`));
    });
  });
}

/** Stops a running ffmpeg the way that lets it close its output (SIGINT), killing it after 5 s. */
export async function stopFfmpeg(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
