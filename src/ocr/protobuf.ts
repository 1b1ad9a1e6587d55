// The protobuf wire format, just enough to read an ONNX model's messages and write them back:
// fields are decoded one level at a time and keep their bytes, so a message that is not changed
// is written back exactly as it was read.

export const Wire = { Varint: 0, Fixed64: 1, Bytes: 2, Fixed32: 5 } as const;
export type Wire = (typeof Wire)[keyof typeof Wire];

export interface Field {
  number: number;
  wire: Wire;
  /**
   * Varint fields: the value. Other fields: their bytes (as read: a view into the message, not a
   * copy) or, for a message built here, its fields (encoded with the message that holds it).
   */
  value: bigint | Uint8Array | Field[];
}

export function decodeMessage(bytes: Uint8Array): Field[] {
  const fields: Field[] = [];
  let at = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (at >= bytes.length || shift > 63n) throw new Error('malformed protobuf varint');
      const byte = bytes[at++];
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return result;
    }
  };
  const take = (length: number): Uint8Array => {
    if (length < 0 || at + length > bytes.length) throw new Error('malformed protobuf field length');
    const view = bytes.subarray(at, at + length);
    at += length;
    return view;
  };
  while (at < bytes.length) {
    const key = Number(varint());
    const number = key >>> 3;
    const wire = (key & 7) as Wire;
    if (wire === Wire.Varint) fields.push({ number, wire, value: varint() });
    else if (wire === Wire.Fixed64) fields.push({ number, wire, value: take(8) });
    else if (wire === Wire.Fixed32) fields.push({ number, wire, value: take(4) });
    else if (wire === Wire.Bytes) fields.push({ number, wire, value: take(Number(varint())) });
    else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return fields;
}

/** A message field's own fields, whether it was read or built here. */
export function subfields(field: Field): Field[] {
  return Array.isArray(field.value) ? field.value : decodeMessage(field.value as Uint8Array);
}

/** The message's bytes, written in one buffer (nested messages built here included). */
export function encodeMessage(fields: readonly Field[]): Uint8Array {
  const lengths = new Map<readonly Field[], number>();
  const out = new Uint8Array(messageLength(fields, lengths));
  const end = writeMessage(fields, out, 0, lengths);
  if (end !== out.length) throw new Error('protobuf encoding length mismatch');
  return out;
}

function messageLength(fields: readonly Field[], lengths: Map<readonly Field[], number>): number {
  let size = 0;
  for (const field of fields) {
    size += varintLength(BigInt((field.number << 3) | field.wire));
    if (field.wire === Wire.Varint) size += varintLength(field.value as bigint);
    else {
      const length = Array.isArray(field.value) ? messageLength(field.value, lengths) : (field.value as Uint8Array).length;
      if (Array.isArray(field.value)) lengths.set(field.value, length);
      size += (field.wire === Wire.Bytes ? varintLength(BigInt(length)) : 0) + length;
    }
  }
  return size;
}

function writeMessage(fields: readonly Field[], out: Uint8Array, start: number, lengths: Map<readonly Field[], number>): number {
  let at = start;
  for (const field of fields) {
    at = writeVarint(out, at, BigInt((field.number << 3) | field.wire));
    if (field.wire === Wire.Varint) at = writeVarint(out, at, field.value as bigint);
    else if (Array.isArray(field.value)) {
      at = writeVarint(out, at, BigInt(lengths.get(field.value) ?? 0));
      at = writeMessage(field.value, out, at, lengths);
    } else {
      const bytes = field.value as Uint8Array;
      if (field.wire === Wire.Bytes) at = writeVarint(out, at, BigInt(bytes.length));
      out.set(bytes, at);
      at += bytes.length;
    }
  }
  return at;
}

/** Negative int64 values are written as their 64-bit two's complement (ten bytes). */
const unsigned = (value: bigint): bigint => (value < 0n ? value + (1n << 64n) : value);

function varintLength(value: bigint): number {
  let rest = unsigned(value);
  let length = 1;
  while (rest >= 0x80n) {
    rest >>= 7n;
    length++;
  }
  return length;
}

function writeVarint(out: Uint8Array, start: number, value: bigint): number {
  let at = start;
  let rest = unsigned(value);
  while (rest >= 0x80n) {
    out[at++] = Number(rest & 0x7fn) | 0x80;
    rest >>= 7n;
  }
  out[at++] = Number(rest);
  return at;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export const text = (field: Field): string => fromUtf8.decode(field.value as Uint8Array);

export const textField = (number: number, value: string): Field => ({ number, wire: Wire.Bytes, value: utf8.encode(value) });

export const messageField = (number: number, fields: Field[]): Field => ({ number, wire: Wire.Bytes, value: fields });

export const varintField = (number: number, value: number | bigint): Field => ({ number, wire: Wire.Varint, value: BigInt(value) });

export function floatField(number: number, value: number): Field {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setFloat32(0, value, true);
  return { number, wire: Wire.Fixed32, value: bytes };
}

export function readFloat(field: Field): number {
  const bytes = field.value as Uint8Array;
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getFloat32(0, true);
}

/** A repeated integer field's values, written packed or one by one. */
export function readIntegers(fields: readonly Field[], number: number): bigint[] {
  const values: bigint[] = [];
  for (const field of fields) {
    if (field.number !== number) continue;
    if (field.wire === Wire.Varint) values.push(BigInt.asIntN(64, field.value as bigint));
    else if (field.wire === Wire.Bytes) {
      // Packed: the bytes are varints one after another; decode them as fields of number 0.
      const bytes = field.value as Uint8Array;
      const keyed = new Uint8Array(bytes.length * 2);
      let at = 0;
      let start = 0;
      for (let i = 0; i < bytes.length; i++) {
        if (i === start) keyed[at++] = 0; // key: field 0, varint
        keyed[at++] = bytes[i];
        if (bytes[i] < 0x80) start = i + 1;
      }
      for (const item of decodeMessage(keyed.subarray(0, at))) values.push(BigInt.asIntN(64, item.value as bigint));
    }
  }
  return values;
}
