export * from './types.js';
export { Raft, type RaftConfig, type PersistedState, type Status } from './raft.js';
export { Random } from './random.js';
