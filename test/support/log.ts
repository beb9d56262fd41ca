import type { Logger } from '../../src/log.js';

/** A logger that keeps every line as text, to check what was logged (and what never was). */
export class RecordingLogger implements Logger {
  readonly lines: { level: string; text: string }[] = [];
  private record(level: string, obj: object | string, msg?: string): void {
    this.lines.push({ level, text: `${typeof obj === 'string' ? obj : JSON.stringify(obj)} ${msg ?? ''}` });
  }
  info(obj: object | string, msg?: string): void {
    this.record('info', obj, msg);
  }
  warn(obj: object | string, msg?: string): void {
    this.record('warn', obj, msg);
  }
  error(obj: object | string, msg?: string): void {
    this.record('error', obj, msg);
  }
  debug(obj: object | string, msg?: string): void {
    this.record('debug', obj, msg);
  }
  text(): string {
    return this.lines.map((l) => `${l.level} ${l.text}`).join('\n');
  }
}

const PINO_LEVELS: Record<number, 'debug' | 'info' | 'warn' | 'error'> = {
  10: 'debug',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'error',
};

/**
 * A destination for a pino logger (createLogger(level, destination)) that hands every JSON line
 * to the recording logger, with pino's `msg` as the message: the complete service (whose HTTP
 * edge needs pino) logs into a RecordingLogger.
 */
export function recordingDestination(recording: RecordingLogger): { write(line: string): void } {
  let pending = '';
  return {
    write(chunk: string) {
      pending += chunk;
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        nl = pending.indexOf('\n');
        if (!line.trim()) continue;
        const { level, msg, time: _t, pid: _p, hostname: _h, ...fields } = JSON.parse(line) as Record<string, unknown>;
        recording[PINO_LEVELS[Number(level)] ?? 'info'](fields, typeof msg === 'string' ? msg : '');
      }
    },
  };
}
