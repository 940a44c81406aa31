/**
 * Human-readable texts for CONNACK return codes (3.1/3.1.1), MQTT 5 reason codes and client
 * errors, worded as libmosquitto words them, since Mosquitto's clients print these.
 */

const CONNACK_V3: Record<number, string> = {
  0: 'Connection Accepted.',
  1: 'Connection Refused: unacceptable protocol version.',
  2: 'Connection Refused: identifier rejected.',
  3: 'Connection Refused: broker unavailable.',
  4: 'Connection Refused: bad user name or password.',
  5: 'Connection Refused: not authorised.',
};

export function connackString(code: number): string {
  return CONNACK_V3[code] ?? 'Connection Refused: unknown reason.';
}

const REASONS: Record<number, string> = {
  0: 'Success',
  1: 'Granted QoS 1',
  2: 'Granted QoS 2',
  4: 'Disconnect with Will Message',
  16: 'No matching subscribers',
  17: 'No subscription existed',
  24: 'Continue authentication',
  25: 'Re-authenticate',
  128: 'Unspecified error',
  129: 'Malformed packet',
  130: 'Protocol error',
  131: 'Implementation specific error',
  132: 'Unsupported protocol version',
  133: 'Client identifier not valid',
  134: 'Bad username or password',
  135: 'Not authorized',
  136: 'Server unavailable',
  137: 'Server busy',
  138: 'Banned',
  139: 'Server shutting down',
  140: 'Bad authentication method',
  141: 'Keep alive timeout',
  142: 'Session taken over',
  143: 'Topic filter invalid',
  144: 'Topic name invalid',
  145: 'Packet identifier in use',
  146: 'Packet identifier not found',
  147: 'Receive maximum exceeded',
  148: 'Topic alias invalid',
  149: 'Packet too large',
  150: 'Message rate too high',
  151: 'Quota exceeded',
  152: 'Administrative action',
  153: 'Payload format invalid',
  154: 'Retain not supported',
  155: 'QoS not supported',
  156: 'Use another server',
  157: 'Server moved',
  158: 'Shared subscriptions not supported',
  159: 'Connection rate exceeded',
  160: 'Maximum connect time',
  161: 'Subscription identifiers not supported',
  162: 'Wildcard subscriptions not supported',
};

export function reasonString(code: number): string {
  return REASONS[code] ?? 'Unknown reason';
}

/** libmosquitto's error texts for the client errors the programs report. */
export const ClientError = {
  ConnectionRefused: 'The connection was refused.',
  Protocol: 'A network protocol error occurred when communicating with the broker.',
  ConnectionLost: 'The connection was lost.',
  NoConnection: 'The client is not currently connected.',
  Inval: 'Invalid input. Does your topic contain \'+\' or \'#\'?',
} as const;

/** strerror(3) texts for the socket errors a dial can end with. */
const ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: 'Connection refused',
  ENOENT: 'No such file or directory',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  ECONNRESET: 'Connection reset by peer',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  ENOTSOCK: 'Socket operation on non-socket',
  ECONNABORTED: 'Software caused connection abort',
  EPIPE: 'Broken pipe',
  EINVAL: 'Invalid argument',
  EADDRINUSE: 'Address already in use',
};

export function errnoText(code: string | undefined, fallback: string): string {
  return (code !== undefined ? ERRNO_TEXT[code] : undefined) ?? fallback;
}
