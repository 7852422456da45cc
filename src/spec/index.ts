export * from './schema.js';
export * from './normalize.js';
export * from './units.js';
