package shmring

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// sealedSeals are the seals of a sealed segment: its size can never
// change, so the writer's mapping can never lose pages under it (a write
// past the end of a truncated file is SIGBUS, which a Go program cannot
// recover from), and nobody but the writer's own mapping can write to it.
const sealedSeals = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_FUTURE_WRITE | unix.F_SEAL_SEAL

// CreateSealed makes the segment of the daemon serving mount as an
// anonymous memory file (memfd) sealed against resizing and writing, with a
// ring of slots records (0 means DefaultSlots). It has no name anyone could
// take first or replace: readers open it as /proc/PID/fd/N (Path), which
// the kernel lets only the daemon's user and root do, and it goes with the
// daemon however the daemon ends.
func CreateSealed(mount string, slots int) (*Writer, error) {
	if slots == 0 {
		slots = DefaultSlots
	}
	if slots < 1 || slots > maxSlots || slots&(slots-1) != 0 {
		return nil, fmt.Errorf("shmring: %d slots: want a power of two up to %d", slots, maxSlots)
	}
	fd, err := unix.MemfdCreate(Prefix+"segment", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("create shared memory segment: %w", err)
	}
	path := "/proc/" + strconv.Itoa(os.Getpid()) + "/fd/" + strconv.Itoa(fd)
	f := os.NewFile(uintptr(fd), path)
	// Readers refuse a segment that others may write to.
	if err := unix.Fchmod(fd, 0o600); err != nil {
		f.Close()
		return nil, fmt.Errorf("chmod shared memory segment: %w", err)
	}
	w, err := initSegment(f, path, mount, slots)
	if err != nil {
		f.Close()
		return nil, err
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, sealedSeals); err != nil {
		w.unmap()
		f.Close()
		return nil, fmt.Errorf("seal shared memory segment: %w", err)
	}
	w.sealed = true
	return w, nil
}
