// Package faults parses fault-injection rules and decides, call by call,
// which fault (if any) a lane injects. It knows no lane: a lane describes a
// call (syscall, path, process) and delivers the Fault it gets back.
//
// Rules use strace's -e inject= syntax plus btfuse's own keys:
//
//	SET:ACTION[:ACTION...]
//
// SET is a comma-separated list of syscall names, %classes (%file, %desc,
// %stat, %lstat, %fstat, %%stat, %statfs, %fstatfs, %%statfs, %creds, and
// btfuse's %read, %write, %data), /regex (matched against names) and all; a
// leading '!' negates the whole set; a '?' before an element ignores it when
// it names nothing. Actions: error=ERRNO or retval=N (the call does not
// run), signal=SIG, delay_enter=D, delay_exit=D (microseconds, or with a
// ns/us/ms/s suffix), when=FIRST[..LAST][+[STEP]], and btfuse's path=GLOB,
// prob=P, seed=N, short=N, corrupt=N, enospc=SIZE, pid=N[,N...], comm=NAME and
// count=N. Syntax errors carry their byte position.
//
// Counting follows strace: when= counts the calls a rule matches (syscall,
// path, pid, comm) per rule, per syscall and per process: in
// 'openat,mkdir:error=EPERM:when=2' the second openat and the second mkdir
// fail, as under strace, which keeps one counter per syscall of a rule
// (checked against strace by cmd/btfuse's TestInjectStraceDifferential).
// Every rule counts every call
// it matches, so one rule's when= does not depend on the others; of the
// rules that fire on a call, the first listed wins. prob= draws from a hash
// of the rule's seed, its id and the call's number in that count, so the
// same rules, seed and program give the same faults, whatever the order in
// which processes run.
//
// A Set is safe for concurrent use. Its rule list is copy-on-write behind an
// atomic pointer (Match takes no lock unless a rule matches); the per-process
// counters are guarded by Set.mu.
package faults
