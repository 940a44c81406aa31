export { Broker, VERSION } from './broker/broker.js';
export type { BrokerOptions, ListenerSettings } from './broker/options.js';
export { Log, LogType, LOG_ALL, LOG_DEFAULT } from './broker/log.js';
export type { Authenticator, Authorizer, EnhancedAuthenticator } from './broker/security.js';
export type { BrokerPlugin } from './broker/plugin.js';
export * from './protocol/index.js';
export { createRedisPlugin } from './broker/redis/index.js';
export { createPersistencePlugin } from './broker/persistence/plugin.js';
