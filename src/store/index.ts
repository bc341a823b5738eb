export * from './memory-store.js';
export * from './sqlite-store.js';
export * from './store.js';
