/** The Redis integration (issue 7): one entry point, a broker plugin. */
export { createRedisPlugin, type RedisPlugin, type RedisPluginOptions, type RedisPluginStats } from './plugin.js';
