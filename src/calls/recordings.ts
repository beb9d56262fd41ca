/**
 * Composite recordings: one per call at a time, with `settings.recording` (quality, layout), an
 * output of the egress's broadcast group of that (call, quality, layout) (so a running broadcast
 * of the same picture is shared). Written as a fragmented MP4 in the work directory while it
 * runs, finished at stop into a faststart MP4 in the recordings storage. Kept in the store: a
 * recording still marked running at start (the service crashed or was stopped) is finished from
 * its part then, or reported failed; never silently lost. Downloads go through signed,
 * time-bounded URLs.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutputAttacher } from '../egress/hls.js';
import { RecordingOutput, finishRecording } from '../egress/recording.js';
import type { EventBus, NewEvent } from '../events/contract.js';
import { startQuality } from '../layout/orientation.js';
import type { LayoutParticipant } from '../layout/participants.js';
import type { Quality } from '../layout/settings.js';
import type { Logger } from '../log.js';
import type { ObjectStorage } from '../storage/storage.js';
import type { RecordingRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { ApiError, badRequest, notFound } from '../wire/errors.js';
import type { JsonObject } from '../wire/json.js';
import type { LoadedCall } from './access.js';
import { followLayoutSettings, layoutAt } from './broadcast-layout.js';
import { runsOnAnotherLiveNode, type OutputNodes } from './output-nodes.js';
import { dig, effectiveSettings } from './settings.js';

export const DEFAULT_DOWNLOAD_TTL_MS = 2 * 60 * 60_000;
const RECORDING_TYPE = 'composite';
/** Where the recording layout is in a call's settings. */
const RECORDING_LAYOUT = ['recording', 'layout'] as const;

export interface RecordingStateOptions {
  store: Store;
  bus: EventBus;
  log: Logger;
  /** The egress recordings attach to; null where there is none (recording then answers 400). */
  engine: OutputAttacher | null;
  /** Where finished recordings are kept. */
  storage: ObjectStorage;
  /** Where part files are written while recording (local disk). */
  workDir: string;
  /** The base URL download links point at (read per use). */
  publicUrl: () => string;
  /** Signs download links (the API secret). Secret: never log it. */
  signingSecret: string;
  /** How long a download link works; default 2 h. */
  downloadTtlMs?: number;
  ffmpegPath?: string;
  /** The call's live session id, if anyone is in it. */
  sessionId?: (callCid: string) => string | null;
  participants?: (callCid: string) => readonly LayoutParticipant[];
  /** Cluster mode: recordings of other live nodes are shown from the store. */
  nodes?: OutputNodes;
  now?: () => Date;
}

export interface RecordingStateEvents {
  /** The call's recording state changed: its call response did too. */
  changed: [callCid: string];
}

interface Running {
  record: RecordingRecord;
  output: RecordingOutput;
}

/** Stream's file name for a composite recording. */
export function recordingFilename(type: string, id: string, quality: string, startMs: number): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, '-');
  return `rec_${safe(type)}_${safe(id)}_${safe(quality)}_${startMs}.mp4`;
}

/** The signature of a download link. Pure. */
export function downloadSignature(secret: string, id: string, filename: string, expires: number): string {
  return createHmac('sha256', secret).update(`recording\n${id}\n${filename}\n${expires}`).digest('base64url');
}

export class RecordingState extends EventEmitter<RecordingStateEvents> {
  private readonly running = new Map<string, Running>();
  private readonly finishing = new Set<Promise<void>>();
  private readonly now: () => Date;
  private closing = false;

  constructor(private readonly opts: RecordingStateOptions) {
    super();
    this.now = opts.now ?? (() => new Date());
  }

  /** A recording runs in the call (`call.recording`). */
  active(cid: string): boolean {
    return this.running.has(cid);
  }

  /** `call.egress.composite_recording` while one runs, else null. */
  view(cid: string): { status: string } | null {
    return this.running.has(cid) ? { status: 'running' } : null;
  }

  /** `view` as this node answers it: its own recording, else (cluster mode) one another live node runs, from the store. */
  async egressView(cid: string): Promise<{ status: string } | null> {
    const local = this.view(cid);
    if (local || !this.opts.nodes) return local;
    const running = await this.opts.store.outputs.listRecordings(cid, 'recording').catch(() => []);
    const elsewhere = await runsOnAnotherLiveNode(
      this.opts.nodes,
      running.map((r) => r.node_id),
    );
    return elsewhere ? { status: 'running' } : null;
  }

  /** Seconds of video the call's running recording holds so far (frames / 30), or null. */
  recordedSeconds(cid: string): number | null {
    const r = this.running.get(cid);
    return r ? r.output.videoFramesWritten / 30 : null;
  }

  /**
   * The call's settings changed: a running recording takes the layout `settings.recording.layout`
   * now gives (it moves to the encode of that layout at its next keyframe; the same file goes
   * on). Its quality stays. Never throws (logged). True when it changed.
   */
  async followSettings(loaded: LoadedCall): Promise<boolean> {
    const r = this.running.get(loaded.call.cid);
    if (!r) return false;
    return followLayoutSettings(
      loaded,
      {
        what: 'recording',
        path: RECORDING_LAYOUT,
        current: r.record.layout,
        context: { recording: r.record.id },
        apply: async (layout) => {
          r.output.changeLayout(layout);
          r.record = { ...r.record, layout };
          await this.opts.store.outputs.updateRecording(r.record.id, { layout });
        },
      },
      this.opts.log,
    );
  }

  /** The calls with a recording running on this node. */
  runningCalls(): Iterable<string> {
    return this.running.keys();
  }

  /** Starts a composite recording of the call (access already checked). */
  async start(loaded: LoadedCall): Promise<void> {
    const { call } = loaded;
    const cid = call.cid;
    if (!this.opts.engine) throw badRequest('recording needs the egress, which this service runs without');
    if (call.ended_at !== null) throw badRequest(`call ${cid} has ended: recording cannot be started`);
    if (this.running.has(cid)) throw badRequest(`a recording is already running in call ${cid}`);
    const settings = effectiveSettings(loaded.callType.settings, call.settings_override);
    if (dig(settings, ['recording', 'mode']) === 'disabled')
      throw badRequest(`recording is disabled for call ${cid} (settings.recording.mode)`);
    if (dig(settings, ['recording', 'audio_only']) === true)
      throw badRequest(`audio-only recordings are not supported (settings.recording.audio_only)`);
    const quality = String(dig(settings, ['recording', 'quality']) ?? '720p');
    const startedAt = this.now();
    const id = randomBytes(12).toString('hex');
    const sessionId = this.opts.sessionId?.(cid) ?? randomUUID();
    const filename = recordingFilename(call.type, call.id, quality, startedAt.getTime());
    const record: RecordingRecord = {
      id,
      call_cid: cid,
      session_id: sessionId,
      filename,
      storage_key: `${call.type}/${call.id}/${sessionId}/${filename}`.replace(/[^A-Za-z0-9/._:@-]/g, '-'),
      status: 'recording',
      node_id: this.opts.nodes?.nodeId() ?? null,
      quality,
      layout: layoutAt(settings, RECORDING_LAYOUT),
      part_path: join(this.opts.workDir, `${id}.part.mp4`),
      start_time: startedAt.toISOString(),
      end_time: null,
      error: null,
    };
    await this.opts.store.outputs.addRecording(record);
    const participants = this.opts.participants?.(cid) ?? [];
    const output = new RecordingOutput({
      engine: this.opts.engine,
      callCid: cid,
      quality: startQuality(quality as Quality, record.layout.detect_orientation, participants),
      layout: record.layout,
      partPath: record.part_path,
      log: this.opts.log,
      ...(this.opts.ffmpegPath ? { ffmpegPath: this.opts.ffmpegPath } : {}),
    });
    const entry: Running = { record, output };
    this.running.set(cid, entry);
    output.once('started', () => {
      if (this.closing || this.running.get(cid) !== entry) return;
      this.opts.log.info({ callCid: cid, recording: id, quality }, 'recording started');
      this.publish({ type: 'call.recording_started', call_cid: cid, egress_id: id, recording_type: RECORDING_TYPE });
    });
    output.once('failed', (reason) => {
      if (this.closing || this.running.get(cid) !== entry) return;
      this.running.delete(cid);
      this.opts.log.warn({ callCid: cid, recording: id, reason }, 'recording failed');
      this.track(this.finish(record, reason));
      this.emit('changed', cid);
    });
    try {
      await output.start();
    } catch (err) {
      this.running.delete(cid);
      const reason = `the recording could not start: ${err instanceof Error ? err.message : String(err)}`;
      await this.opts.store.outputs.updateRecording(id, { status: 'failed', end_time: this.now().toISOString(), error: reason });
      this.publish({ type: 'call.recording_failed', call_cid: cid, egress_id: id, recording_type: RECORDING_TYPE, error: reason });
      // Refused by admission (no room for a new encode): answered as the engine words it.
      if (err instanceof ApiError) throw err;
      throw badRequest(reason);
    }
    this.emit('changed', cid);
  }

  /** Stops the call's recording (400 when none runs); the file is finished in the background (call.recording_ready). */
  async stop(cid: string): Promise<void> {
    if (!this.running.has(cid)) throw badRequest(`no recording is running in call ${cid}`);
    await this.stopForCall(cid);
  }

  /** Stops the call's recording if one runs (call end). */
  async stopForCall(cid: string): Promise<void> {
    const entry = this.running.get(cid);
    if (!entry) return;
    this.running.delete(cid);
    await entry.output.stop();
    this.opts.log.info({ callCid: cid, recording: entry.record.id }, 'recording stopped');
    this.publish({ type: 'call.recording_stopped', call_cid: cid, egress_id: entry.record.id, recording_type: RECORDING_TYPE });
    this.emit('changed', cid);
    this.track(this.finish(entry.record, null));
  }

  /** Waits for recordings being finished (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.finishing.size > 0) await Promise.all([...this.finishing]);
  }

  /** The call's finished recordings as CallRecording, with download links valid for the TTL. */
  async list(cid: string): Promise<JsonObject[]> {
    const records = await this.opts.store.outputs.listRecordings(cid, 'ready');
    return records.map((r) => this.callRecording(r));
  }

  /** Deletes a finished recording of the call (404 when there is none of that session and name). */
  async delete(cid: string, sessionId: string, filename: string): Promise<void> {
    const r = (await this.opts.store.outputs.listRecordings(cid)).find(
      (x) => x.session_id === sessionId && x.filename === filename && x.status !== 'recording',
    );
    if (!r) throw notFound(`no recording ${filename} of session ${sessionId} in call ${cid}`);
    if (r.status === 'ready') await this.opts.storage.delete(r.storage_key);
    await rm(r.part_path, { force: true });
    await this.opts.store.outputs.removeRecording(r.id);
    this.opts.log.info({ callCid: cid, recording: r.id }, 'recording deleted');
  }

  /** Deletes every recording of the call (hard delete of the call). */
  async deleteAll(cid: string): Promise<void> {
    await this.stopForCall(cid);
    await this.settled();
    for (const r of await this.opts.store.outputs.listRecordings(cid)) {
      if (r.status === 'ready') await this.opts.storage.delete(r.storage_key);
      await rm(r.part_path, { force: true });
      await this.opts.store.outputs.removeRecording(r.id);
    }
  }

  /**
   * What a download link names, once its signature and expiry are checked: the stored object to
   * send. Null for a wrong, expired or unknown link (answered 404 without telling which).
   */
  async download(id: string, filename: string, expires: string, signature: string): Promise<{ key: string; bytes: number } | null> {
    const exp = Number(expires);
    if (!Number.isInteger(exp) || exp * 1000 < this.now().getTime()) return null;
    const expected = Buffer.from(downloadSignature(this.opts.signingSecret, id, filename, exp));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
    const r = await this.opts.store.outputs.getRecording(id);
    if (r?.status !== 'ready' || r.filename !== filename) return null;
    const st = await this.opts.storage.stat(r.storage_key);
    return st ? { key: r.storage_key, bytes: st.bytes } : null;
  }

  /** After a restart: finishes every recording still marked running (from its part), or fails it. */
  async recover(): Promise<number> {
    const stale = await this.opts.store.outputs.listRecordings(undefined, 'recording');
    for (const r of stale) {
      this.opts.log.warn({ callCid: r.call_cid, recording: r.id }, 'recording was interrupted; finishing it');
      this.publish({ type: 'call.recording_stopped', call_cid: r.call_cid, egress_id: r.id, recording_type: RECORDING_TYPE });
      await this.finish(r, null);
      this.emit('changed', r.call_cid);
    }
    return stale.length;
  }

  /** Service shutdown: recordings stop writing (their parts are finished at the next start). */
  async close(): Promise<void> {
    this.closing = true;
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.all(all.map((e) => e.output.stop()));
    await this.settled();
  }

  private track(p: Promise<void>): void {
    this.finishing.add(p);
    void p.finally(() => this.finishing.delete(p));
  }

  /**
   * Finishes the part into storage: ready + call.recording_ready, or failed + call.recording_failed
   * when nothing playable was written. `failure` (the packager died) still keeps what it wrote.
   */
  private async finish(r: RecordingRecord, failure: string | null): Promise<void> {
    let endTime = this.now().toISOString();
    try {
      endTime = (await stat(r.part_path)).mtime.toISOString();
    } catch {
      // No part at all: finishing below reports it.
    }
    try {
      const out = join(this.opts.workDir, `${r.id}.mp4`);
      await finishRecording(r.part_path, out, this.opts.ffmpegPath ? { ffmpegPath: this.opts.ffmpegPath } : {});
      await this.opts.storage.putFile(r.storage_key, out);
      const ready: RecordingRecord = { ...r, status: 'ready', end_time: endTime, error: failure };
      await this.opts.store.outputs.updateRecording(r.id, { status: 'ready', end_time: endTime, error: failure });
      if (failure) {
        this.publish({
          type: 'call.recording_failed',
          call_cid: r.call_cid,
          egress_id: r.id,
          recording_type: RECORDING_TYPE,
          error: failure,
        });
      }
      this.opts.log.info({ callCid: r.call_cid, recording: r.id }, 'recording ready');
      this.publish({
        type: 'call.recording_ready',
        call_cid: r.call_cid,
        egress_id: r.id,
        recording_type: RECORDING_TYPE,
        call_recording: this.callRecording(ready),
      });
    } catch (err) {
      const reason = failure ?? (err instanceof Error ? err.message : String(err));
      this.opts.log.error({ callCid: r.call_cid, recording: r.id, reason }, 'recording could not be finished');
      await this.opts.store.outputs.updateRecording(r.id, { status: 'failed', end_time: endTime, error: reason }).catch(() => undefined);
      this.publish({ type: 'call.recording_failed', call_cid: r.call_cid, egress_id: r.id, recording_type: RECORDING_TYPE, error: reason });
    }
  }

  private callRecording(r: RecordingRecord): JsonObject {
    const expires = Math.floor((this.now().getTime() + (this.opts.downloadTtlMs ?? DEFAULT_DOWNLOAD_TTL_MS)) / 1000);
    const sig = downloadSignature(this.opts.signingSecret, r.id, r.filename, expires);
    return {
      filename: r.filename,
      url: `${this.opts.publicUrl()}/recordings/${r.id}/${encodeURIComponent(r.filename)}?expires=${expires}&signature=${sig}`,
      start_time: r.start_time,
      end_time: r.end_time ?? r.start_time,
      session_id: r.session_id,
      recording_type: RECORDING_TYPE,
    };
  }

  private publish(event: NewEvent): void {
    try {
      this.opts.bus.publish(event);
    } catch (err) {
      this.opts.log.error({ eventType: event.type, err: String(err) }, 'event could not be published');
    }
  }
}
