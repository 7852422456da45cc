// The Raft layer's public face: the pure core (core/: the protocol, its Ready and read-index
// rounds, the log and codecs) and the driver around it (node.ts with storage.ts and the transport).
// Code outside src/raft imports from here.
export * from './core/types.js';
export { Raft, type RaftConfig, type PersistedState, type Status } from './core/raft.js';
export { Random } from './core/random.js';
export { RaftNode, ConfChangeError, NodeStoppedError, NotLeaderError, OutcomeUnknownError, NotCommittedError, type StateMachine, type RaftNodeOptions, type RaftObserver } from './node.js';
export { RaftStorage, StorageError, type StorageOptions } from './storage.js';
export { HttpTransport } from './transport.js';
export { raftRoutes } from './transport-routes.js';
export { CodecError, encodeMessages, decodeMessages } from './core/codec.js';
export { nextConf, encodeConfChange, decodeConfChange, type ConfChange, type ConfChangeType, type ConfChangeRecord } from './core/conf-change.js';
