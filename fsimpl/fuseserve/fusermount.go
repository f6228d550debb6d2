package fuseserve

import (
	"errors"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Without root, go-fuse mounts through the setuid fusermount3, which it
// starts with this process's standard error and whose failure it reports
// only as "fusermount exited with code 256": the reason (no access to
// /dev/fuse or to the mount point, mount_max reached, ...) went to a
// terminal apart from the error, or was lost in a background daemon's
// log. So the mount runs with descriptor 2 on a pipe, and what came
// through becomes the error; on success it is passed on to the real
// descriptor 2.

// stderrMu serialises the redirections of descriptor 2.
var stderrMu sync.Mutex

// captureStderr runs fn with descriptor 2 on a pipe and returns what was
// written to it meanwhile (at most 64 KiB). Writes of other goroutines in
// that window are captured too; the caller passes them on.
func captureStderr(fn func() error) (said string, err error) {
	stderrMu.Lock()
	defer stderrMu.Unlock()
	r, w, perr := os.Pipe()
	if perr != nil {
		return "", fn()
	}
	saved, derr := unix.FcntlInt(2, unix.F_DUPFD_CLOEXEC, 0)
	if derr != nil {
		r.Close()
		w.Close()
		return "", fn()
	}
	if derr := unix.Dup3(int(w.Fd()), 2, 0); derr != nil {
		unix.Close(saved)
		r.Close()
		w.Close()
		return "", fn()
	}
	w.Close()
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(r, 64<<10))
		io.Copy(io.Discard, r)
		r.Close()
		got <- string(b)
	}()
	err = fn()
	unix.Dup3(saved, 2, 0) // ends the pipe's last writer: ReadAll returns
	unix.Close(saved)
	return <-got, err
}

// fusermountError is err of a mount through fusermount3 with what the tool
// said on its standard error in its place.
func fusermountError(err error, said string) error {
	said = strings.TrimSpace(said)
	if said == "" {
		return errors.New(strings.TrimSpace(err.Error()))
	}
	return errors.New(strings.Join(strings.Fields(strings.ReplaceAll(said, "\n", "; ")), " "))
}
