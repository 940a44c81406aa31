/**
 * ts-mosquitto_pub --help: the same text as Mosquitto's mosquitto_pub, under our names.
 */
import * as U from './usage-common.js';

export function pubUsage(p: string, version: string): string {
  return `${p} is a simple mqtt client that will publish a message on a single topic and exit.
${p} version ${version} running on ts-mosquitto ${version}.

Usage: ${p} {[-h host] [--unix path] [-p port] [-u username] [-P password] -t topic | -L URL}
                     {-f file | -l | -n | -m message}
                     [-c] [-k keepalive] [-q qos] [-r] [--repeat N] [--repeat-delay time] [-x session-expiry]
${U.synopsisBindAndId(21)}                     [-d] [--quiet]
                     [-M max_inflight]
                     [-u username [-P password]]
${U.synopsisWillToProxy(21)}                     [--property command identifier value]
                     [-D command identifier value]
       ${p} --help

${U.OPT_BIND} -d : enable debug messages.
${U.OPT_CLEAN} -D : Define MQTT v5 properties. See the documentation for more details.
 -f : send the contents of a file as the message.
 -h : mqtt host to connect to. Defaults to localhost.
 -i : id to use for this client. Defaults to ${p}_ appended with the process id.
 -I : define the client id as id_prefix appended with the process id. Useful for when the
      broker is using the clientid_prefixes option.
 -k : keep alive in seconds for this client. Defaults to 60.
${U.OPT_URL} -l : read messages from stdin, sending a separate message for each line.
 -m : message payload to send.
 -M : the maximum inflight messages for QoS 1/2..
 -n : send a null (zero length) message.
${U.OPT_PORT_PASSWORD} -q : quality of service level to use for all messages. Defaults to 0.
 -r : message should be retained.
 -s : read message from stdin, sending the entire input as a message.
 -t : mqtt topic to publish to.
 -u : provide a username
${U.OPT_VERSION_311}${U.OPT_EXPIRY_HELP_NODELAY} --quiet : don't print error messages.
 --repeat : if publish mode is -f, -m, or -s, then repeat the publish N times.
 --repeat-delay : if using --repeat, wait time seconds between publishes. Defaults to 0.
${U.UNIX_AND_WILL} --cafile : path to a file containing trusted CA certificates to enable encrypted
            communication.
${U.TLS_CAPATH_CERT_KEY}${U.TLS_KEYFORM_CIPHERS_VERSION}${U.INSECURE} --tls-engine : If set, enables the use of a TLS engine device.
${U.TLS_ENGINE_KPASS_OS_CERTS}${U.PSK_PROXY_AND_END}`;
}
