/** Counters behind $SYS/broker/... (mosquitto(8), BROKER STATUS). */
export class Stats {
  /** Packets of every type, counted at the connection (net/connection.ts). */
  messagesReceived = 0;
  messagesSent = 0;
  publishReceived = 0;
  publishSent = 0;
  publishDropped = 0;
  /** Payload bytes of PUBLISH packets received and sent (publish/bytes/...). */
  publishBytesReceived = 0;
  publishBytesSent = 0;
  /** Every byte read and written, counted at the connection. */
  bytesReceived = 0;
  bytesSent = 0;
  clientsConnected = 0;
  clientsMaximum = 0;
  clientsExpired = 0;
  socketsOpened = 0;
  socketsClosed = 0;
  /** CONNECT packets accepted (load/connections/...). */
  connectionsTotal = 0;
  /** Messages waiting in session queues. */
  storedMessages = 0;
  // Finer counts for the metrics listener (observe/), incremented where the counts above
  // are, read only when scraped. Indexed by QoS; PUBLISH from clients and to clients.
  readonly publishReceivedByQos = [0, 0, 0];
  readonly publishSentByQos = [0, 0, 0];
  readonly publishBytesReceivedByQos = [0, 0, 0];
  readonly publishBytesSentByQos = [0, 0, 0];
  /** publishDropped by reason, plus messages an ACL kept from a publisher or a subscriber. */
  droppedQueueFull = 0;
  droppedSocketBacklog = 0;
  droppedTooLarge = 0;
  droppedMemoryLimit = 0;
  droppedAcl = 0;
  /** Authentication refused: bad password, anonymous not allowed, enhanced (AUTH), TLS identity missing. */
  authFailedPassword = 0;
  authFailedAnonymous = 0;
  authFailedEnhanced = 0;
  authFailedCertificate = 0;
  /** CONNACK refusals by MQTT 5 reason code (connect.ts refuse()). */
  readonly connectRefused: Record<number, number> = {};
}
