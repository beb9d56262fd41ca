/**
 * The RTMP messages a publishing client sends and the control messages it reads, by name: each
 * builder returns a complete message (chunk stream, type, message stream, payload) for the chunk
 * writer; each reader checks the payload's length. Pure.
 */
import { Amf0EcmaArray, encodeAmf0 } from './amf0.js';
import { MessageType, type RtmpMessage } from './chunk.js';
import type { FlvTag } from '../flv/tag.js';

/** Chunk stream ids a publisher uses (any 2..65599 would do; these are the usual ones). */
export const ChunkStream = {
  Protocol: 2,
  Command: 3,
  Audio: 4,
  Data: 5,
  Video: 6,
  StreamCommand: 8,
} as const;

/** User Control message event types (RTMP 1.0, 7.1.7). */
export const UserControlEvent = {
  StreamBegin: 0,
  StreamEof: 1,
  StreamDry: 2,
  SetBufferLength: 3,
  StreamIsRecorded: 4,
  PingRequest: 6,
  PingResponse: 7,
} as const;

export class MessageError extends Error {
  override readonly name = 'MessageError';
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

function protocolControl(typeId: number, payload: Buffer): RtmpMessage {
  return { csid: ChunkStream.Protocol, typeId, streamId: 0, timestamp: 0, payload };
}

// --- protocol control ----------------------------------------------------------------------

/** Set Chunk Size: the sender's chunks carry up to `size` bytes of payload from now on. */
export function setChunkSize(size: number): RtmpMessage {
  if (!Number.isInteger(size) || size < 1 || size > 0x7fffffff) throw new MessageError(`invalid chunk size ${size}`);
  return protocolControl(MessageType.SetChunkSize, u32(size));
}

/** Window Acknowledgement Size: the peer should acknowledge every `size` bytes it receives. */
export function windowAckSize(size: number): RtmpMessage {
  return protocolControl(MessageType.WindowAckSize, u32(size));
}

/** Acknowledgement: `received` bytes (32-bit, wrapping) have been received so far. */
export function acknowledgement(received: number): RtmpMessage {
  return protocolControl(MessageType.Acknowledgement, u32(received));
}

/** PingResponse (User Control event 7) echoing the PingRequest's 4-byte timestamp. */
export function pingResponse(timestamp: number): RtmpMessage {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(UserControlEvent.PingResponse, 0);
  b.writeUInt32BE(timestamp >>> 0, 2);
  return protocolControl(MessageType.UserControl, b);
}

// --- reading control messages ----------------------------------------------------------------

/** The 4-byte value of Set Chunk Size, Window Acknowledgement Size, Acknowledgement, Abort. */
export function readU32Control(payload: Buffer, what: string): number {
  if (payload.length < 4) throw new MessageError(`${what} message too short`);
  return payload.readUInt32BE(0);
}

/** Set Peer Bandwidth: window size and limit type (0 hard, 1 soft, 2 dynamic). */
export function readSetPeerBandwidth(payload: Buffer): { windowSize: number; limitType: number | undefined } {
  if (payload.length < 4) throw new MessageError('Set Peer Bandwidth message too short');
  return { windowSize: payload.readUInt32BE(0), limitType: payload[4] };
}

export interface UserControl {
  event: number;
  /** PingRequest / PingResponse: the timestamp; stream events: the stream id; else undefined. */
  value: number | undefined;
}

/** A User Control message: its event type and, for the events that have one, its 4-byte value. */
export function readUserControl(payload: Buffer): UserControl {
  if (payload.length < 2) throw new MessageError('User Control message too short');
  const event = payload.readUInt16BE(0);
  if (event === UserControlEvent.PingRequest && payload.length < 6) throw new MessageError('PingRequest too short');
  return { event, value: payload.length >= 6 ? payload.readUInt32BE(2) : undefined };
}

// --- commands --------------------------------------------------------------------------------

/** An AMF0 command: name, transaction id, then the command object and arguments. */
export function command(csid: number, streamId: number, name: string, transactionId: number, ...args: unknown[]): RtmpMessage {
  return { csid, typeId: MessageType.CommandAmf0, streamId, timestamp: 0, payload: encodeAmf0(name, transactionId, ...args) };
}

export interface ConnectParams {
  app: string;
  tcUrl: string;
  flashVer: string;
}

/** NetConnection.connect, as encoders (FMLE, OBS) send it. */
export function connectCommand(transactionId: number, p: ConnectParams): RtmpMessage {
  return command(ChunkStream.Command, 0, 'connect', transactionId, {
    app: p.app,
    type: 'nonprivate',
    flashVer: p.flashVer,
    tcUrl: p.tcUrl,
  });
}

export function releaseStreamCommand(transactionId: number, streamName: string): RtmpMessage {
  return command(ChunkStream.Command, 0, 'releaseStream', transactionId, null, streamName);
}

export function fcPublishCommand(transactionId: number, streamName: string): RtmpMessage {
  return command(ChunkStream.Command, 0, 'FCPublish', transactionId, null, streamName);
}

export function createStreamCommand(transactionId: number): RtmpMessage {
  return command(ChunkStream.Command, 0, 'createStream', transactionId, null);
}

/** NetStream.publish of `streamName` as a live stream, on the stream createStream returned. */
export function publishCommand(streamId: number, transactionId: number, streamName: string): RtmpMessage {
  return command(ChunkStream.StreamCommand, streamId, 'publish', transactionId, null, streamName, 'live');
}

export function fcUnpublishCommand(streamName: string): RtmpMessage {
  return command(ChunkStream.Command, 0, 'FCUnpublish', 0, null, streamName);
}

export function deleteStreamCommand(streamId: number): RtmpMessage {
  return command(ChunkStream.Command, 0, 'deleteStream', 0, null, streamId);
}

// --- stream data -----------------------------------------------------------------------------

const SET_DATA_FRAME = encodeAmf0('@setDataFrame');

/**
 * A data message for the stream: "@setDataFrame" followed by `body` (the AMF0 values of a script
 * tag, e.g. "onMetaData" and its properties), as ingest servers expect from a publisher. A body
 * that already starts with "@setDataFrame" is sent as is.
 */
export function setDataFrame(streamId: number, timestamp: number, body: Buffer): RtmpMessage {
  const wrapped = body.subarray(0, SET_DATA_FRAME.length).equals(SET_DATA_FRAME);
  return {
    csid: ChunkStream.Data,
    typeId: MessageType.DataAmf0,
    streamId,
    timestamp,
    payload: wrapped ? body : Buffer.concat([SET_DATA_FRAME, body]),
  };
}

/** The script tag body of onMetaData with `properties` (an AMF0 ECMA array). */
export function onMetaDataBody(properties: Record<string, unknown>): Buffer {
  return encodeAmf0('onMetaData', new Amf0EcmaArray(properties));
}

/** An FLV tag as the message that carries it: audio, video, or (script tags) @setDataFrame. */
export function tagMessage(streamId: number, tag: FlvTag, timestamp: number): RtmpMessage {
  const ts = Math.max(0, Math.floor(timestamp));
  if (tag.type === 'script') return setDataFrame(streamId, ts, tag.data);
  return tag.type === 'audio'
    ? { csid: ChunkStream.Audio, typeId: MessageType.Audio, streamId, timestamp: ts, payload: tag.data }
    : { csid: ChunkStream.Video, typeId: MessageType.Video, streamId, timestamp: ts, payload: tag.data };
}
