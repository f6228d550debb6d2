// Package posixtest is a differential POSIX conformance kit for any
// directory: a suite of named cases, a seeded random-operation engine and a
// name-handling probe. None of it needs a testing.T or a mount of its own:
// everything takes a directory path and returns a transcript, so the same
// code runs in the go test process, or in a child re-executed under the
// btfuse supervisor, against a reference directory (a kernel tmpfs) and the
// filesystem under test. The caller compares the transcripts.
//
// A transcript records what an application can observe and POSIX defines:
// results and errnos, file types, modes, link counts, owners, sizes,
// allocated blocks of regular files, contents, link targets, xattrs, and
// timestamps only as relations (unchanged, changed, set to a given value,
// "now"). Inode numbers, st_dev, st_blksize, directory sizes and statfs
// numbers are left out: they legitimately differ between filesystems.
//
// Cases may also pin behaviour with hand-written expectations (S.Want); a
// violated expectation is a failure on either side, so a wrong expectation
// shows up against the reference first.
//
// Concurrency: an S is used by one goroutine at a time. S.As runs its body on
// a fresh locked OS thread whose credentials are changed and which dies with
// the goroutine, so no other goroutine ever runs with them.
package posixtest
