export { Broker, VERSION } from './broker/broker.js';
export type { BrokerOptions, ListenerSettings } from './broker/options.js';
export { Log, LogType, LOG_ALL, LOG_DEFAULT } from './broker/log.js';
export type { Authenticator, Authorizer, EnhancedAuthenticator } from './broker/security.js';
export type { BrokerCore, BrokerPlugin, ClientContext, Session } from './broker/core.js';
export * from './protocol/index.js';
export { createRedisPlugin } from './broker/redis/index.js';
export { createPersistencePlugin } from './broker/persistence/plugin.js';
export { createBridgePlugin } from './broker/bridge/plugin.js';
export { createObservePlugin, type ObservePlugin } from './broker/observe/plugin.js';
export type { BridgeConfig, BridgeTopic, BridgeAddress } from './broker/config/types.js';
/** A connection over any byte stream, for Broker.accept() from a transport of one's own. */
export { Connection } from './net/connection.js';
