/**
 * ts-mosquitto_rr --help: the same text as Mosquitto's mosquitto_rr, under our names.
 */
import * as U from './usage-common.js';

export function rrUsage(p: string, version: string): string {
  return `${p} is an mqtt client that can be used to publish a request message and wait for a response.
             Defaults to MQTT v5, where the Request-Response feature will be used, but v3.1.1 can also be used
             with v3.1.1 brokers.
${p} version ${version} running on ts-mosquitto ${version}.

Usage: ${p} {[-h host] [--unix path] [-p port] [-u username] [-P password] -t topic | -L URL} -e response-topic
                    [-c] [-k keepalive] [-q qos] [-R] [-x session-expiry-interval
                    [-F format]
                    [-W timeout_secs]
${U.synopsisBindAndId(20)}                    [-d] [-N] [--quiet] [-v]
${U.synopsisWillToProxy(20)}                    [-D command identifier value]
       ${p} --help

${U.OPT_BIND}${U.OPT_CLEAN} -d : enable debug messages.
 -D : Define MQTT v5 properties. See the documentation for more details.
 -e : Response topic. The client will subscribe to this topic to wait for a response.
 -F : output format.
 -h : mqtt host to connect to. Defaults to localhost.
 -i : id to use for this client. Defaults to ${p}_ appended with the process id.
 -k : keep alive in seconds for this client. Defaults to 60.
${U.OPT_URL} -N : do not add an end of line character when printing the payload.
${U.OPT_PORT_PASSWORD} -q : quality of service level to use for communications. Defaults to 0.
 -R : do not print stale messages (those with retain set).
 -t : topic where the request message will be sent.
 -u : provide a username
 -v : print received messages verbosely.
 -V : specify the version of the MQTT protocol to use when connecting.
      Defaults to 5.
 -W : Specifies a timeout in seconds how long to wait for a response.
${U.OPT_EXPIRY_HELP_NODELAY}${U.OPT_PRETTY_QUIET}${U.UNIX_AND_WILL} --cafile : path to a file containing trusted CA certificates to enable encrypted
            certificate based communication.
${U.TLS_CAPATH_CERT_KEY} --ciphers : openssl compatible list of TLS ciphers to support.
 --tls-use-os-certs : Load and trust OS provided CA certificates.
 --tls-version : TLS protocol version, can be one of tlsv1.3 tlsv1.2 or tlsv1.1.
                 Defaults to tlsv1.2 if available.
${U.INSECURE}${U.PSK_PROXY_AND_END}`;
}
