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
}
