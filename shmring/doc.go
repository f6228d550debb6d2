// Package shmring is the daemon's mirror in shared memory: a file (mode
// 0600) that the daemon maps read-write and that `btfuse status`, `btfuse
// trace` and the metrics exporter map read-only, without ever talking to
// the daemon. It is only the transport: what an event says (op, door,
// outcome) is package event's.
//
// The daemon's segment is sealed (CreateSealed): a memfd with
// F_SEAL_SHRINK, F_SEAL_GROW and F_SEAL_FUTURE_WRITE, read through
// /proc/PID/fd/N. A named file in /dev/shm (Create) can be created first by
// any local user, and truncated by its owner under the writer's mapping,
// whose next store is then a SIGBUS the writer cannot recover from; the
// seals make both impossible. Named segments remain for tests and for
// sweeping what older daemons left.
//
// # Layout (version 2, little-endian, offsets in bytes)
//
//	0        header (4 KiB): magic, version, layout sizes, daemon pid,
//	         start time, mount path, the name of every op, gauges, ring
//	         cursors
//	4096     counters: one cell per op (event.MaxOps of them) × door ×
//	         outcome, each a call count, a latency sum and latency
//	         histogram buckets (≤ 2^i µs)
//	ringOff  ring: RingSlots fixed-size records (128 bytes)
//
// Ops are numbered as package event numbers them in the writer's binary. A
// reader accepts a segment only if the header's op names are its own, one
// for one, so that it prints the name the writer meant.
//
// Every size and offset is written in the header by the producer and
// checked by readers against what this package computes; a reader never
// uses a length or an offset from the segment without bounding it first.
//
// # Producer
//
// Writer.Observe is called by many goroutines at once. It never blocks and
// never allocates: counters are atomic adds; a record takes a ticket from
// the ring's head (an atomic add) and owns slot ticket%RingSlots through a
// per-record seqlock: seq is 2(t+1)+1 while ticket t is being written and
// 2(t+1) once it is complete. A full ring overwrites the oldest record
// (counted in Overwritten); a writer that finds its slot still being
// written by a lapped writer, or already holding a newer record, gives up
// on its record (counted in Dropped) rather than wait.
//
// # Readers
//
// A reader copies a record, then re-reads its seq: the copy is good only
// if seq was even and unchanged and names the ticket the reader wanted.
// Records it could not get (overwritten, torn, dropped) are counted as
// missed. Counters are read one word at a time; a snapshot is therefore
// not atomic across cells, which is fine for monitoring.
//
// # Liveness
//
// The daemon holds an exclusive flock on the segment for its lifetime and
// the kernel drops it when the daemon dies (a sealed segment's /proc path
// disappears with it as well). A segment whose lock can be
// taken (or whose pid is gone) belongs to a dead daemon: Create and Sweep
// remove it. A segment is linked into place only once its header is
// complete (O_TMPFILE, then linkat), so a reader never sees a half-built
// one.
package shmring
