export * from './enums.js';
export * from './errors.js';
export * from './actor.js';
export * from './lifecycle.js';
export * from './components.js';
export * from './approval.js';
export * from './publication.js';
export * from './events.js';
