export * from './connection.js';
export * from './listener.js';
export * from './dial.js';
