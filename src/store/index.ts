export * from './store.js';
export * from './sqlite-store.js';
export * from './memory-store.js';
