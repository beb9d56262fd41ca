/**
 * The files Callcast serves without headers, as a plugin of the HTTP edge:
 * - `GET /hls/{token}/{file}`: an HLS broadcast's master and variant playlists and segments, under
 *   the broadcast's unguessable token (as Stream's CDN URLs are), readable from any origin;
 * - `GET /recordings/{id}/{filename}?expires=&signature=`: a finished recording through a signed,
 *   time-bounded link (byte ranges for players that seek).
 * Unknown tokens, names, expired or wrong signatures all answer 404 alike.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { HlsState } from '../calls/hls.js';
import type { RecordingState } from '../calls/recordings.js';
import type { ObjectStorage } from '../storage/storage.js';
import { ApiError, ErrorCodes, notFound } from '../wire/errors.js';

export interface MediaFilesOptions {
  hls: HlsState;
  recordings: RecordingState;
  storage: ObjectStorage;
}

/** The inclusive byte range of a `Range: bytes=a-b` header over `size` bytes; null for none, 'invalid' when unsatisfiable. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'invalid' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'invalid';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) return 'invalid';
  return { start, end };
}

function firstString(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  return '';
}

export async function mediaFilesPlugin(app: FastifyInstance, opts: MediaFilesOptions): Promise<void> {
  app.get<{ Params: { token: string; file: string } }>(
    '/hls/:token/:file',
    { config: { operation: 'GetHLSFile' } },
    async (request, reply) => {
      const path = await opts.hls.servable(request.params.token, request.params.file);
      if (!path) throw notFound('no such HLS file');
      let size: number;
      try {
        size = (await stat(path)).size;
      } catch {
        throw notFound('no such HLS file');
      }
      const playlist = path.endsWith('.m3u8');
      reply.header('Access-Control-Allow-Origin', '*');
      reply.header('Cache-Control', playlist ? 'no-cache' : 'public, max-age=60');
      reply.header('Content-Length', size);
      reply.type(playlist ? 'application/vnd.apple.mpegurl' : 'video/mp2t');
      return reply.send(createReadStream(path));
    },
  );

  app.get<{ Params: { id: string; filename: string }; Querystring: Record<string, unknown> }>(
    '/recordings/:id/:filename',
    { config: { operation: 'GetRecordingFile' } },
    async (request, reply) => {
      const q = request.query ?? {};
      const found = await opts.recordings.download(
        request.params.id,
        request.params.filename,
        firstString(q.expires),
        firstString(q.signature),
      );
      if (!found) throw notFound('no such recording, or the link has expired');
      const range = parseRange(firstString(request.headers.range) || undefined, found.bytes);
      if (range === 'invalid') {
        reply.header('Content-Range', `bytes */${found.bytes}`);
        throw new ApiError(416, ErrorCodes.input, 'the requested range is not satisfiable');
      }
      reply.header('Accept-Ranges', 'bytes');
      reply.header('Cache-Control', 'private, no-store');
      reply.header('Content-Disposition', `attachment; filename="${request.params.filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`);
      reply.type('video/mp4');
      if (range) {
        reply.code(206);
        reply.header('Content-Range', `bytes ${range.start}-${range.end}/${found.bytes}`);
        reply.header('Content-Length', range.end - range.start + 1);
        return reply.send(opts.storage.read(found.key, range));
      }
      reply.header('Content-Length', found.bytes);
      return reply.send(opts.storage.read(found.key));
    },
  );
}
