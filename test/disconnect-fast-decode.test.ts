/**
 * A DISCONNECT without a body (how nearly every client leaves) is read by the fast decoder,
 * not by a fresh mqtt-packet parser per connection (issue 17: connect/disconnect storms);
 * anything else about a DISCONNECT is still left to mqtt-packet.
 */
import { describe, expect, it } from 'vitest';
import { decodeSmall } from '../src/protocol/fast-decode.js';

const bare = Buffer.from([0xe0, 0x00]);

describe('a DISCONNECT without a body', () => {
  it('is decoded by hand at 3.1 and 3.1.1, and at MQTT 5 as reason 0 (normal disconnection)', () => {
    expect(decodeSmall(bare, 0xe0, 2, 0, 3)).toEqual({ cmd: 'disconnect', length: 0 });
    expect(decodeSmall(bare, 0xe0, 2, 0, 4)).toEqual({ cmd: 'disconnect', length: 0 });
    expect(decodeSmall(bare, 0xe0, 2, 0, 5)).toEqual({ cmd: 'disconnect', reasonCode: 0, length: 0 });
  });

  it('with a reason code or properties, or reserved flags, is left to mqtt-packet', () => {
    const withReason = Buffer.from([0xe0, 0x01, 0x04]);
    expect(decodeSmall(withReason, 0xe0, 2, 1, 5)).toBeUndefined();
    expect(decodeSmall(Buffer.from([0xe1, 0x00]), 0xe1, 2, 0, 4)).toBeUndefined();
  });
});
