/**
 * ts-mosquitto_sub --help: the same text as Mosquitto's mosquitto_sub, under our names.
 */
import * as U from './usage-common.js';

export function subUsage(p: string, version: string): string {
  return `${p} is a simple mqtt client that will subscribe to a set of topics and print all messages it receives.
${p} version ${version} running on ts-mosquitto ${version}.

Usage: ${p} {[-h host] [--unix path] [-p port] [-u username] [-P password] -t topic | -L URL [-t topic]}
                     [-c] [-k keepalive] [-q qos] [-x session-expiry-interval]
                     [-C msg_count] [-E] [-R] [--retained-only] [--remove-retained] [-T filter_out] [-U topic ...]
                     [-F format]
                     [-W timeout_secs]
${U.synopsisBindAndId(21)}                     [-d] [-N] [--quiet] [-v]
${U.synopsisWillToProxy(21)}                     [-D command identifier value]
       ${p} --help

${U.OPT_BIND}${U.OPT_CLEAN} -C : disconnect and exit after receiving the 'msg_count' messages.
 -d : enable debug messages.
 -D : Define MQTT v5 properties. See the documentation for more details.
 -E : Exit once all subscriptions have been acknowledged by the broker.
 -F : output format.
 -h : mqtt host to connect to. Defaults to localhost.
 -i : id to use for this client. Defaults to ${p}_ appended with the process id.
 -I : define the client id as id_prefix appended with the process id. Useful for when the
      broker is using the clientid_prefixes option.
 -k : keep alive in seconds for this client. Defaults to 60.
${U.OPT_URL} -N : do not add an end of line character when printing the payload.
${U.OPT_PORT_PASSWORD} -q : quality of service level to use for the subscription. Defaults to 0.
 -R : do not print stale messages (those with retain set).
 -t : mqtt topic to subscribe to. May be repeated multiple times.
 -T : topic string to filter out of results. May be repeated.
 -u : provide a username
 -U : unsubscribe from a topic. May be repeated.
 -v : print published messages verbosely.
${U.OPT_VERSION_311} -W : Specifies a timeout in seconds how long to process incoming MQTT messages.
${U.OPT_EXPIRY_HELP_NODELAY}${U.OPT_PRETTY_QUIET} --random-filter : only print a percentage of received messages. Set to 100 to have all
                   messages printed, 50.0 to have half of the messages received on average
                   printed, and so on.
 --retained-only : only handle messages with the retained flag set, and exit when the
                   first non-retained message is received.
 --remove-retained : send a message to the server to clear any received retained messages
                     Use -T to filter out messages you do not want to be cleared.
${U.UNIX_AND_WILL} --cafile : path to a file containing trusted CA certificates to enable encrypted
            certificate based communication.
${U.TLS_CAPATH_CERT_KEY}${U.TLS_KEYFORM_CIPHERS_VERSION}${U.INSECURE} --tls-engine : If set, enables the use of a SSL engine device.
${U.TLS_ENGINE_KPASS_OS_CERTS}${U.PSK_PROXY_AND_END}`;
}
