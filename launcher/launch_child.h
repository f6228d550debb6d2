// Shared by launch_child.c and the Go side of the launcher (launch_cgo.go).
#ifndef BTFUSE_LAUNCH_CHILD_H
#define BTFUSE_LAUNCH_CHILD_H

// BTFUSE_CHILD_ENV marks a process started by Spawn as the launcher child;
// its value is the descriptor of the socket to the parent.
#define BTFUSE_CHILD_ENV "BTFUSE_SUPERVISED_CHILD"

// BTFUSE_PRELOAD_ENV names a library the child appends to the command's
// LD_PRELOAD when the dynamic loader will honour it there (preload_ok):
// the fast lane's. The launcher child itself never loads it.
#define BTFUSE_PRELOAD_ENV "BTFUSE_CHILD_PRELOAD"

// RLIMIT_NOFILE's soft limit as the process started with, before the Go
// runtime raised it; valid when btfuse_orig_nofile_ok is set.
extern unsigned long long btfuse_orig_nofile;
extern int btfuse_orig_nofile_ok;

#endif
