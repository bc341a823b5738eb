/**
 * The few MQTT 3.1.1 packets the peer load generator needs (CONNECT,
 * SUBSCRIBE, PUBLISH at QoS 1, PUBACK), encoded by hand, and a splitter that
 * cuts a byte stream into packets. No I/O here (like src/protocol): the
 * generator's sockets only call these. Written by hand rather than with
 * mqtt.js so that the MQTT driver costs about what the zapwire driver costs
 * per message (one Buffer per loop turn per connection, no per-packet
 * objects beyond the slice), and the generator is not what the peers are
 * measured against.
 */

export const CONNACK = 2;
export const PUBLISH = 3;
export const PUBACK = 4;
export const SUBACK = 9;

function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

function utf8Field(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(2 + b.length);
  out.writeUInt16BE(b.length, 0);
  b.copy(out, 2);
  return out;
}

function packet(first: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first, ...remainingLength(body.length)]), body]);
}

/** [MQTT-3.1] CONNECT, protocol level 4, clean session, keep alive 0 (no PINGREQ needed). */
export function encodeConnect(clientId: string): Buffer {
  return packet(
    0x10,
    Buffer.concat([utf8Field('MQTT'), Buffer.from([4, 0x02, 0, 0]), utf8Field(clientId)]),
  );
}

/** [MQTT-3.8] SUBSCRIBE one topic at QoS 1; the first byte's flags must be 0010 [MQTT-3.8.1-1]. */
export function encodeSubscribe(packetId: number, topic: string): Buffer {
  const id = Buffer.allocUnsafe(2);
  id.writeUInt16BE(packetId, 0);
  return packet(0x82, Buffer.concat([id, utf8Field(topic), Buffer.from([1])]));
}

/**
 * A PUBLISH at QoS 1 whose payload will be written in place: returns the
 * packet with a zeroed payload and the payload's offset, so that the sender
 * builds it once per topic and only rewrites packet id and payload per message.
 */
export function publishTemplate(
  topic: string,
  payloadSize: number,
): { packet: Buffer; idOffset: number; payloadOffset: number } {
  const t = utf8Field(topic);
  const body = Buffer.alloc(t.length + 2 + payloadSize);
  t.copy(body, 0);
  const p = packet(0x32, body);
  const header = p.length - body.length;
  return { packet: p, idOffset: header + t.length, payloadOffset: header + t.length + 2 };
}

export function encodePuback(packetId: number): Buffer {
  return Buffer.from([0x40, 2, packetId >> 8, packetId & 0xff]);
}

/** Writes a PUBACK for packetId into buf at offset (4 bytes). */
export function writePuback(buf: Buffer, offset: number, packetId: number): void {
  buf[offset] = 0x40;
  buf[offset + 1] = 2;
  buf[offset + 2] = packetId >> 8;
  buf[offset + 3] = packetId & 0xff;
}

/** Where a QoS 1 PUBLISH's packet id and payload are in a packet (body = after the fixed header). */
export function publishParts(body: Buffer): { packetId: number; payloadOffset: number } {
  const topicLength = body.readUInt16BE(0);
  return { packetId: body.readUInt16BE(2 + topicLength), payloadOffset: 4 + topicLength };
}

/** Cuts a stream into packets: calls back with the packet type, its flags, and its body (a view). */
export class MqttSplitter {
  private rest: Buffer | undefined;

  push(chunk: Buffer, onPacket: (type: number, flags: number, body: Buffer) => void): void {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    let at = 0;
    for (;;) {
      if (buf.length - at < 2) break;
      let length = 0;
      let multiplier = 1;
      let i = at + 1;
      let complete = false;
      for (; i < buf.length && i < at + 5; i++) {
        length += (buf[i]! & 0x7f) * multiplier;
        multiplier *= 128;
        if ((buf[i]! & 0x80) === 0) {
          complete = true;
          i++;
          break;
        }
      }
      if (!complete) {
        if (i >= at + 5) throw new Error('MQTT remaining length over 4 bytes');
        break;
      }
      if (buf.length - i < length) break;
      onPacket(buf[at]! >> 4, buf[at]! & 0x0f, buf.subarray(i, i + length));
      at = i + length;
    }
    this.rest = at < buf.length ? Buffer.from(buf.subarray(at)) : undefined;
  }
}
