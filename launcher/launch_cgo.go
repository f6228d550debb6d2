package launcher

// #include "launch_child.h"
import "C"

// ChildEnv marks a process started by Spawn as the launcher child; its
// value is the descriptor of the socket to the parent. launch_child.c's
// constructor recognises it before the Go runtime starts.
const ChildEnv = C.BTFUSE_CHILD_ENV

// PreloadEnv carries Options.Preload to the child (launch_child.c).
const PreloadEnv = C.BTFUSE_PRELOAD_ENV

// startNofile returns the soft RLIMIT_NOFILE this process started with,
// before the Go runtime raised it: the one the commands it execs get.
func startNofile() (uint64, bool) {
	return uint64(C.btfuse_orig_nofile), C.btfuse_orig_nofile_ok != 0
}
