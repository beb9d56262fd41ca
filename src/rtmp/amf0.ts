/**
 * AMF0 (Action Message Format 0) encoding and decoding, as used by RTMP command and data
 * messages. Pure; decoding is bounded (nesting depth, input length) and throws Amf0Error on
 * malformed input.
 */

export type Amf0Value = number | boolean | string | null | undefined | Date | Amf0Value[] | { [key: string]: Amf0Value };

export class Amf0Error extends Error {
  override readonly name = 'Amf0Error';
}

enum Marker {
  Number = 0x00,
  Boolean = 0x01,
  String = 0x02,
  Object = 0x03,
  MovieClip = 0x04,
  Null = 0x05,
  Undefined = 0x06,
  Reference = 0x07,
  EcmaArray = 0x08,
  ObjectEnd = 0x09,
  StrictArray = 0x0a,
  Date = 0x0b,
  LongString = 0x0c,
  Unsupported = 0x0d,
  XmlDocument = 0x0f,
  TypedObject = 0x10,
}

/** Marks a plain object to be encoded as an ECMA array (e.g. onMetaData properties). */
export class Amf0EcmaArray {
  constructor(readonly properties: Record<string, unknown>) {}
}

const MAX_DEPTH = 32;

function encodeUtf8Short(s: string, out: Buffer[]): void {
  const b = Buffer.from(s, 'utf8');
  if (b.length > 0xffff) throw new Amf0Error('property name longer than 65535 bytes');
  const len = Buffer.allocUnsafe(2);
  len.writeUInt16BE(b.length);
  out.push(len, b);
}

function encodeProperties(obj: Record<string, unknown>, out: Buffer[], depth: number): void {
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    encodeUtf8Short(k, out);
    encodeInto(v, out, depth + 1);
  }
  out.push(Buffer.from([0x00, 0x00, Marker.ObjectEnd]));
}

function encodeInto(value: unknown, out: Buffer[], depth: number): void {
  if (depth > MAX_DEPTH) throw new Amf0Error('value nested too deeply');
  if (typeof value === 'number') {
    const b = Buffer.allocUnsafe(9);
    b[0] = Marker.Number;
    b.writeDoubleBE(value, 1);
    out.push(b);
  } else if (typeof value === 'boolean') {
    out.push(Buffer.from([Marker.Boolean, value ? 1 : 0]));
  } else if (typeof value === 'string') {
    const s = Buffer.from(value, 'utf8');
    if (s.length <= 0xffff) {
      const h = Buffer.allocUnsafe(3);
      h[0] = Marker.String;
      h.writeUInt16BE(s.length, 1);
      out.push(h, s);
    } else {
      const h = Buffer.allocUnsafe(5);
      h[0] = Marker.LongString;
      h.writeUInt32BE(s.length, 1);
      out.push(h, s);
    }
  } else if (value === null) {
    out.push(Buffer.from([Marker.Null]));
  } else if (value === undefined) {
    out.push(Buffer.from([Marker.Undefined]));
  } else if (value instanceof Date) {
    const b = Buffer.alloc(11);
    b[0] = Marker.Date;
    b.writeDoubleBE(value.getTime(), 1);
    out.push(b);
  } else if (value instanceof Amf0EcmaArray) {
    const h = Buffer.allocUnsafe(5);
    h[0] = Marker.EcmaArray;
    const entries = Object.entries(value.properties).filter(([, v]) => v !== undefined);
    h.writeUInt32BE(entries.length, 1);
    out.push(h);
    encodeProperties(Object.fromEntries(entries), out, depth);
  } else if (Array.isArray(value)) {
    const h = Buffer.allocUnsafe(5);
    h[0] = Marker.StrictArray;
    h.writeUInt32BE(value.length, 1);
    out.push(h);
    for (const v of value) encodeInto(v, out, depth + 1);
  } else if (typeof value === 'object') {
    out.push(Buffer.from([Marker.Object]));
    encodeProperties(value as Record<string, unknown>, out, depth);
  } else {
    throw new Amf0Error(`cannot encode a ${typeof value} in AMF0`);
  }
}

/** Encodes values one after the other (as in a command message: name, transaction id, ...). */
export function encodeAmf0(...values: unknown[]): Buffer {
  const out: Buffer[] = [];
  for (const v of values) encodeInto(v, out, 0);
  return Buffer.concat(out);
}

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Amf0Error(`truncated AMF0 data at offset ${this.pos}`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }
  utf8(n: number): string {
    this.need(n);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}

function setProperty(obj: Record<string, Amf0Value>, key: string, value: Amf0Value): void {
  // Keys such as "__proto__" become own properties, never prototype changes.
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function readProperties(r: Reader, depth: number): Record<string, Amf0Value> {
  const obj: Record<string, Amf0Value> = {};
  for (;;) {
    const key = r.utf8(r.u16());
    if (key === '') {
      const end = r.u8();
      if (end !== Marker.ObjectEnd) throw new Amf0Error(`expected object end marker, got 0x${end.toString(16)}`);
      return obj;
    }
    setProperty(obj, key, readValue(r, depth + 1));
  }
}

function readValue(r: Reader, depth: number): Amf0Value {
  if (depth > MAX_DEPTH) throw new Amf0Error('AMF0 data nested too deeply');
  const marker = r.u8();
  switch (marker) {
    case Marker.Number:
      return r.f64();
    case Marker.Boolean:
      return r.u8() !== 0;
    case Marker.String:
      return r.utf8(r.u16());
    case Marker.LongString:
    case Marker.XmlDocument:
      return r.utf8(r.u32());
    case Marker.Object:
      return readProperties(r, depth);
    case Marker.TypedObject:
      r.utf8(r.u16()); // class name, not kept
      return readProperties(r, depth);
    case Marker.EcmaArray:
      r.u32(); // approximate count; the end marker terminates
      return readProperties(r, depth);
    case Marker.StrictArray: {
      const n = r.u32();
      // Every element takes at least one byte: reject counts the input cannot hold.
      if (n > r.buf.length - r.pos) throw new Amf0Error(`strict array of ${n} elements exceeds the data`);
      const arr: Amf0Value[] = [];
      for (let i = 0; i < n; i++) arr.push(readValue(r, depth + 1));
      return arr;
    }
    case Marker.Date: {
      const ms = r.f64();
      r.u16(); // time zone, unused
      return new Date(ms);
    }
    case Marker.Null:
      return null;
    case Marker.Undefined:
    case Marker.Unsupported:
      return undefined;
    default:
      throw new Amf0Error(`unsupported AMF0 marker 0x${marker.toString(16)} at offset ${r.pos - 1}`);
  }
}

/** Decodes every value in `buf` (a command or data message body). */
export function decodeAmf0(buf: Buffer): Amf0Value[] {
  const r = new Reader(buf);
  const values: Amf0Value[] = [];
  while (r.pos < buf.length) values.push(readValue(r, 0));
  return values;
}
