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
