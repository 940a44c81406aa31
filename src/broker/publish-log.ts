/** Mosquitto's debug lines about a PUBLISH, shared by the PUBLISH handler and the sending side. */

/** Mosquitto's debug line for an outgoing or incoming PUBLISH. */
export function publishLogLine(
  verb: string,
  id: string,
  dup: boolean,
  qos: number,
  retain: boolean,
  mid: number,
  topic: string,
  bytes: number,
): string {
  return `${verb} ${id} (d${dup ? 1 : 0}, q${qos}, r${retain ? 1 : 0}, m${mid}, '${topic}', ... (${bytes} bytes))`;
}
