/** Counters behind $SYS/broker/... */
export class Stats {
  messagesReceived = 0;
  messagesSent = 0;
  publishReceived = 0;
  publishSent = 0;
  publishDropped = 0;
  bytesReceived = 0;
  bytesSent = 0;
  clientsConnected = 0;
  clientsMaximum = 0;
  clientsExpired = 0;
  socketsOpened = 0;
  socketsClosed = 0;
  connectionsTotal = 0;
  /** Messages waiting in session queues. */
  storedMessages = 0;
}
