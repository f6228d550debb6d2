// Package event is the vocabulary in which the doors report what they did:
// an Op (what was asked), a Door (how it came in), an Outcome (how it was
// answered), the Event that carries them, and the Observer that receives
// events. shmring carries events between processes; status, trace and the
// metrics exporter print them.
//
// # Ops
//
// The FUSE requests are constants here. Every other op, such as a system
// call of a supervised process, is registered by the package that owns
// its list (package supervisor registers one op per row of its syscall
// table), so that no list of names is kept twice. Invariants:
//
//   - Ops are registered only while packages are initialised, in an order
//     fixed by the binary: every process of one binary, a reader of
//     another process's shared-memory segment included, numbers the ops
//     alike, and the op set never changes once events flow.
//   - Op numbers are dense and below MaxOps, so that a record holds an op
//     in 16 bits and a segment keeps one counter cell per op at a fixed
//     place.
//   - Every op has a name of its own; OpSyscall ("syscall") is only for a
//     system call no package registered.
package event
