import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeAmf0 } from '../../src/rtmp/amf0.js';
import { ChunkParser, ChunkWriter, MessageType, type RtmpMessage } from '../../src/rtmp/chunk.js';
import {
  acknowledgement,
  ChunkStream,
  connectCommand,
  createStreamCommand,
  deleteStreamCommand,
  fcPublishCommand,
  fcUnpublishCommand,
  MessageError,
  onMetaDataBody,
  pingResponse,
  publishCommand,
  readSetPeerBandwidth,
  readU32Control,
  readUserControl,
  releaseStreamCommand,
  setChunkSize,
  setDataFrame,
  tagMessage,
  UserControlEvent,
  windowAckSize,
} from '../../src/rtmp/messages.js';
import type { FlvTag } from '../../src/flv/tag.js';

const hex = (b: Buffer) => b.toString('hex');

/** The message with its payload as hex, for exact comparisons. */
function shape(m: RtmpMessage): [number, number, number, number, string] {
  return [m.csid, m.typeId, m.streamId, m.timestamp, hex(m.payload)];
}

describe('RTMP protocol control messages', () => {
  it('are sent on chunk stream 2, message stream 0, with big-endian payloads', () => {
    assert.deepEqual(shape(setChunkSize(4096)), [2, MessageType.SetChunkSize, 0, 0, '00001000']);
    assert.deepEqual(shape(windowAckSize(2_500_000)), [2, MessageType.WindowAckSize, 0, 0, '002625a0']);
    assert.deepEqual(
      shape(acknowledgement(0x1_0000_0005)),
      [2, MessageType.Acknowledgement, 0, 0, '00000005'],
      'the sequence number wraps at 32 bits',
    );
    // User Control event 7 (PingResponse) echoes the request's timestamp.
    assert.deepEqual(shape(pingResponse(0x12345678)), [2, MessageType.UserControl, 0, 0, '000712345678']);
  });

  it('refuses a chunk size outside 1..2^31-1', () => {
    for (const bad of [0, -1, 1.5, 0x80000000]) assert.throws(() => setChunkSize(bad), MessageError, String(bad));
    assert.equal(hex(setChunkSize(0x7fffffff).payload), '7fffffff');
  });

  it('reads control messages and refuses short ones', () => {
    assert.equal(readU32Control(Buffer.from('004c4b40', 'hex'), 'Window Acknowledgement Size'), 5_000_000);
    assert.throws(
      () => readU32Control(Buffer.from('0001', 'hex'), 'Window Acknowledgement Size'),
      /Window Acknowledgement Size message too short/,
    );
    assert.deepEqual(readSetPeerBandwidth(Buffer.from('004c4b4002', 'hex')), { windowSize: 5_000_000, limitType: 2 });
    assert.deepEqual(readSetPeerBandwidth(Buffer.from('004c4b40', 'hex')), { windowSize: 5_000_000, limitType: undefined });
    assert.throws(() => readSetPeerBandwidth(Buffer.from('00', 'hex')), MessageError);
    assert.deepEqual(readUserControl(Buffer.from('000612345678', 'hex')), { event: UserControlEvent.PingRequest, value: 0x12345678 });
    assert.deepEqual(readUserControl(Buffer.from('000000000001', 'hex')), { event: UserControlEvent.StreamBegin, value: 1 });
    assert.deepEqual(readUserControl(Buffer.from('0003', 'hex')), { event: UserControlEvent.SetBufferLength, value: undefined });
    assert.throws(() => readUserControl(Buffer.from('00', 'hex')), /User Control message too short/);
    assert.throws(() => readUserControl(Buffer.from('00061234', 'hex')), /PingRequest too short/);
  });
});

describe('RTMP commands', () => {
  it('builds the publishing sequence as FMLE does', () => {
    const connect = connectCommand(1, { app: 'live2?x=1', tcUrl: 'rtmps://h/live2?x=1', flashVer: 'FMLE/3.0 (test)' });
    assert.deepEqual(
      [connect.csid, connect.typeId, connect.streamId, connect.timestamp],
      [ChunkStream.Command, MessageType.CommandAmf0, 0, 0],
    );
    assert.deepEqual(decodeAmf0(connect.payload), [
      'connect',
      1,
      { app: 'live2?x=1', type: 'nonprivate', flashVer: 'FMLE/3.0 (test)', tcUrl: 'rtmps://h/live2?x=1' },
    ]);

    assert.deepEqual(decodeAmf0(releaseStreamCommand(2, 'key').payload), ['releaseStream', 2, null, 'key']);
    assert.deepEqual(decodeAmf0(fcPublishCommand(3, 'key').payload), ['FCPublish', 3, null, 'key']);
    assert.deepEqual(decodeAmf0(createStreamCommand(4).payload), ['createStream', 4, null]);

    const publish = publishCommand(7, 5, 'key');
    assert.equal(publish.csid, ChunkStream.StreamCommand);
    assert.equal(publish.streamId, 7, 'publish goes on the stream createStream returned');
    assert.deepEqual(decodeAmf0(publish.payload), ['publish', 5, null, 'key', 'live']);

    assert.deepEqual(decodeAmf0(fcUnpublishCommand('key').payload), ['FCUnpublish', 0, null, 'key']);
    const del = deleteStreamCommand(7);
    assert.equal(del.streamId, 0);
    assert.deepEqual(decodeAmf0(del.payload), ['deleteStream', 0, null, 7]);
    for (const m of [releaseStreamCommand(2, 'k'), fcPublishCommand(3, 'k'), createStreamCommand(4), fcUnpublishCommand('k'), del]) {
      assert.equal(m.csid, ChunkStream.Command);
      assert.equal(m.typeId, MessageType.CommandAmf0);
    }
  });

  it('encodes connect exactly (AMF0 bytes)', () => {
    const m = connectCommand(1, { app: 'a', tcUrl: 'rtmp://h/a', flashVer: 'F' });
    const expected = Buffer.concat([
      Buffer.from('020007', 'hex'),
      Buffer.from('connect'),
      Buffer.from('003ff0000000000000', 'hex'), // number 1
      Buffer.from('03', 'hex'), // object
      Buffer.from('0003', 'hex'),
      Buffer.from('app'),
      Buffer.from('020001', 'hex'),
      Buffer.from('a'),
      Buffer.from('0004', 'hex'),
      Buffer.from('type'),
      Buffer.from('02000a', 'hex'),
      Buffer.from('nonprivate'),
      Buffer.from('0008', 'hex'),
      Buffer.from('flashVer'),
      Buffer.from('020001', 'hex'),
      Buffer.from('F'),
      Buffer.from('0005', 'hex'),
      Buffer.from('tcUrl'),
      Buffer.from('02000a', 'hex'),
      Buffer.from('rtmp://h/a'),
      Buffer.from('000009', 'hex'), // object end
    ]);
    assert.equal(hex(m.payload), hex(expected));
  });
});

describe('RTMP stream data', () => {
  const tag = (type: FlvTag['type'], data: Buffer): FlvTag => ({ type, timestamp: 0, data, keyframe: false, sequenceHeader: false });

  it('wraps a script tag as @setDataFrame, once', () => {
    const body = onMetaDataBody({ width: 640, height: 360, skipped: undefined });
    assert.deepEqual(decodeAmf0(body), ['onMetaData', { width: 640, height: 360 }]);
    assert.equal(body[0], 0x02, 'starts with the string "onMetaData"');
    assert.equal(body[1 + 2 + 'onMetaData'.length], 0x08, 'properties as an ECMA array');

    const m = setDataFrame(1, 40, body);
    assert.deepEqual([m.csid, m.typeId, m.streamId, m.timestamp], [ChunkStream.Data, MessageType.DataAmf0, 1, 40]);
    assert.deepEqual(decodeAmf0(m.payload), ['@setDataFrame', 'onMetaData', { width: 640, height: 360 }]);
    assert.equal(hex(m.payload.subarray(0, 16)), hex(Buffer.concat([Buffer.from('02000d', 'hex'), Buffer.from('@setDataFrame')])));
    // Already wrapped: sent as is.
    assert.equal(hex(setDataFrame(1, 0, m.payload).payload), hex(m.payload));

    const fromTag = tagMessage(1, tag('script', body), 40);
    assert.deepEqual(shape(fromTag), shape(m));
  });

  it('sends audio and video tags on their own chunk streams at whole, non-negative milliseconds', () => {
    const video = tagMessage(3, tag('video', Buffer.from([0x17, 1])), 33.7);
    assert.deepEqual(shape(video), [ChunkStream.Video, MessageType.Video, 3, 33, '1701']);
    const audio = tagMessage(3, tag('audio', Buffer.from([0xaf, 1])), -5);
    assert.deepEqual(shape(audio), [ChunkStream.Audio, MessageType.Audio, 3, 0, 'af01']);
  });

  it('round-trips through the chunk writer and parser', () => {
    const writer = new ChunkWriter();
    const parser = new ChunkParser();
    const messages = [
      setChunkSize(64),
      connectCommand(1, { app: 'live', tcUrl: 'rtmp://h/live', flashVer: 'F' }),
      publishCommand(1, 2, 'k'),
      setDataFrame(1, 0, onMetaDataBody({ framerate: 30 })),
      tagMessage(1, tag('video', Buffer.alloc(300, 7)), 0),
    ];
    const received: RtmpMessage[] = [];
    for (const m of messages) {
      for (const c of writer.write(m)) received.push(...parser.push(c));
      if (m.typeId === MessageType.SetChunkSize) writer.setChunkSize(64);
    }
    assert.deepEqual(received.map(shape), messages.map(shape));
  });
});
