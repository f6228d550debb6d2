package daemon

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// raiseNofile lifts the soft RLIMIT_NOFILE to the hard limit, and the hard
// limit to the kernel's fs.nr_open where the process may
// (CAP_SYS_RESOURCE). The FUSE door keeps a descriptor per open file
// handle, for every process on the machine: the daemon's own limit must
// not be what runs out first, or one user holding files open through the
// mount makes the daemon fail opens for everyone and refuse its control
// socket. Processes this one starts afterwards inherit the raised limits,
// so 'btfuse run' starts its command's launcher child before (RunCommand).
// It returns the limits in force afterwards; failures leave them as they
// were.
func raiseNofile() unix.Rlimit {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return rl
	}
	want := rl
	if max := nrOpen(); max > want.Max {
		want.Max = max
	}
	want.Cur = want.Max
	if want == rl {
		return rl
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &want); err == nil {
		return want
	}
	// Not allowed to raise the hard limit: the soft one up to it.
	want.Max, want.Cur = rl.Max, rl.Max
	if want != rl && unix.Setrlimit(unix.RLIMIT_NOFILE, &want) == nil {
		return want
	}
	return rl
}

// nrOpen is the kernel's ceiling on a process's descriptors
// (/proc/sys/fs/nr_open), 0 if unknown.
func nrOpen() uint64 {
	b, err := os.ReadFile("/proc/sys/fs/nr_open")
	if err != nil {
		return 0
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0
	}
	return n
}
