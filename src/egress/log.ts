/** The logger the egress writes to (pino-compatible subset). */
export interface EgressLog {
  info(o: object | string, msg?: string): void;
  warn(o: object | string, msg?: string): void;
  error(o: object | string, msg?: string): void;
}
