/**
 * Where finished files (recordings) are kept. Keys are relative, '/'-separated paths of safe
 * segments, e.g. "default/standup/<session>/rec_....mp4". The local directory implements it; an
 * S3-compatible bucket can implement the same interface (putFile = upload, read = GetObject).
 */
import type { Readable } from 'node:stream';

export interface StoredObject {
  key: string;
  bytes: number;
  modifiedAt: Date;
}

export interface ObjectStorage {
  /** Moves (or uploads) a finished local file into storage under `key`, replacing any object there. */
  putFile(key: string, localPath: string): Promise<StoredObject>;
  stat(key: string): Promise<StoredObject | null>;
  /** The object's bytes, optionally the inclusive byte range [start, end]. */
  read(key: string, range?: { start: number; end: number }): Readable;
  /** Removes the object; false when there was none. */
  delete(key: string): Promise<boolean>;
  /** Objects whose key starts with `prefix` + "/" (or every object for ""). */
  list(prefix: string): Promise<StoredObject[]>;
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$/;

/** Throws unless `key` is a relative path of safe segments (no "..", no empty or hidden segment). */
export function assertStorageKey(key: string): void {
  const parts = key.split('/');
  if (parts.length === 0 || parts.some((p) => !SEGMENT.test(p) || p === '..' || p.includes('..'))) {
    throw new Error(`invalid storage key: ${JSON.stringify(key)}`);
  }
}
