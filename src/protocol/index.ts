export * from './codes.js';
export * from './frame.js';
export * from './frame-splitter.js';
export * from './legacy.js';
export * from './status.js';
export * from './text.js';
