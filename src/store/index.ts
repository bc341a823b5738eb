export * from './memory-store.js';
export * from './postgres-store.js';
export * from './sqlite-store.js';
export * from './store.js';
export * from './sync-turn-store.js';
export * from './turn-store.js';
