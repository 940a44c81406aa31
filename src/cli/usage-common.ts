/**
 * The parts of Mosquitto's client usage texts that pub, sub and rr print word for word
 * alike; each program's own text (usage-pub.ts, usage-sub.ts, usage-rr.ts) places them.
 * Byte for byte Mosquitto's: rr indents its synopsis one space less than pub and sub
 * (but for the --psk line), so the synopsis parts take the indentation.
 */

/** The synopsis lines for -A, --nodelay, -i and -I. */
export function synopsisBindAndId(pad: number): string {
  const s = ' '.repeat(pad);
  return `${s}[-A bind_address] [--nodelay]
${s}[-i id] [-I id_prefix]
`;
}

/** The synopsis lines from --will-topic to --proxy. */
export function synopsisWillToProxy(pad: number): string {
  const s = ' '.repeat(pad);
  return `${s}[--will-topic [--will-payload payload] [--will-qos qos] [--will-retain]]
${s}[{--cafile file | --capath dir} [--cert file] [--key file]
${s}  [--ciphers ciphers] [--insecure]
${s}  [--tls-alpn protocol]
${s}  [--tls-engine engine] [--keyform keyform] [--tls-engine-kpass-sha1]]
${s}  [--tls-use-os-certs]
                     [--psk hex-key --psk-identity identity [--ciphers ciphers]]
${s}[--proxy socks-url]
`;
}

export const OPT_BIND = ` -A : bind the outgoing socket to this host/ip address. Use to control which interface
      the client communicates over.
`;

export const OPT_CLEAN = ` -c : disable clean session/enable persistent client mode
      When this argument is used, the broker will be instructed not to clean existing sessions
      for the same client id when the client connects, and sessions will never expire when the
      client disconnects. MQTT v5 clients can change their session expiry interval with the -x
      argument.
`;

export const OPT_URL = ` -L : specify user, password, hostname, port and topic as a URL in the form:
      mqtt(s)://[username[:password]@]host[:port]/topic
`;

export const OPT_PORT_PASSWORD = ` -p : network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS.
 -P : provide a password
`;

export const OPT_VERSION_311 = ` -V : specify the version of the MQTT protocol to use when connecting.
      Can be mqttv5, mqttv311 or mqttv31. Defaults to mqttv311.
`;

export const OPT_EXPIRY_HELP_NODELAY = ` -x : Set the session-expiry-interval property on the CONNECT packet. Applies to MQTT v5
      clients only. Set to 0-4294967294 to specify the session will expire in that many
      seconds after the client disconnects, or use -1, 4294967295, or ∞ for a session
      that does not expire. Defaults to -1 if -c is also given, or 0 if -c not given.
 --help : display this message.
 --nodelay : disable Nagle's algorithm, to reduce socket sending latency at the possible
             expense of more packets being sent.
`;

export const OPT_PRETTY_QUIET = ` --pretty : print formatted output rather than minimised output when using the
            JSON output format option.
 --quiet : don't print error messages.
`;

export const UNIX_AND_WILL = ` --unix : connect to a broker through a unix domain socket instead of a TCP socket,
          e.g. /tmp/mosquitto.sock
 --will-payload : payload for the client Will, which is sent by the broker in case of
                  unexpected disconnection. If not given and will-topic is set, a zero
                  length message will be sent.
 --will-qos : QoS level for the client Will.
 --will-retain : if given, make the client Will retained.
 --will-topic : the topic on which to publish the client Will.
`;

export const TLS_CAPATH_CERT_KEY = ` --capath : path to a directory containing trusted CA certificates to enable encrypted
            communication.
 --cert : client certificate for authentication, if required by server.
 --key : client private key for authentication, if required by server.
`;

export const TLS_KEYFORM_CIPHERS_VERSION = ` --keyform : keyfile type, can be either "pem" or "engine".
 --ciphers : openssl compatible list of TLS ciphers to support.
 --tls-version : TLS protocol version, can be one of tlsv1.3 tlsv1.2 or tlsv1.1.
                 Defaults to tlsv1.2 if available.
`;

export const INSECURE = ` --insecure : do not check that the server certificate hostname matches the remote
              hostname. Using this option means that you cannot be sure that the
              remote host is the server you wish to connect to and so is insecure.
              Do not use this option in a production environment.
`;

export const TLS_ENGINE_KPASS_OS_CERTS = ` --tls-engine-kpass-sha1 : SHA1 of the key password to be used with the selected SSL engine.
 --tls-use-os-certs : Load and trust OS provided CA certificates.
`;

export const PSK_PROXY_AND_END = ` --psk : pre-shared-key in hexadecimal (no leading 0x) to enable TLS-PSK mode.
 --psk-identity : client identity string for TLS-PSK mode.
 --proxy : SOCKS5 proxy URL of the form:
           socks5h://[username[:password]@]hostname[:port]
           Only "none" and "username" authentication is supported.

See https://mosquitto.org/ for more information.

`;
