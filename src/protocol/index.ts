export * from './packets.js';
export * from './encode.js';
export * from './topic.js';
export * from './publish-encoder.js';
export * from './reason-codes.js';
export * from './properties.js';
export * from './fast-decode.js';
export * from './frame-reader.js';
