package daemon

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/internal/mountinfo"
)

// StaleMount is a btfuse FUSE mount that no daemon serves.
type StaleMount struct {
	Point  string
	Source string
	Dev    uint64
	ID     mountinfo.ID
	// Hung: the connection does not answer (its daemon is alive but
	// stuck or stopped, perhaps of another registry) rather than refusing
	// (ENOTCONN: its daemon died).
	Hung bool
	// Holders are the processes that have files open on the mount, and
	// Files how many descriptors they hold in all (HoldersOf).
	Holders []int
	Files   int
}

// StaleMounts lists the btfuse mounts (fuse.btfuse) of this mount
// namespace, of those that probe accepts, whose FUSE connection has no
// server (the kernel answers their statfs, which it always asks the
// daemon for, with ENOTCONN or ECONNABORTED) or whose server does not
// answer within timeout. Each probe of a hung mount leaves a goroutine
// blocked until the mount is released, which the kernel does not let it
// cancel. A dead daemon's mount keeps the daemon's data in memory for as
// long as it stays mounted (its connection holds the backing files that
// were open through passthrough) and then until the last descriptor open
// on it is closed. 'btfuse umount DIR' clears one.
//
// Probing holds a reference on each mount for the moment of the call,
// which can make a plain (not lazy) unmount of it by someone else fail
// with EBUSY at that moment: callers leave out the mounts they need not
// probe (those of daemons they know, those not asked about).
func StaleMounts(timeout time.Duration, probe func(*mountinfo.Mount) bool) ([]StaleMount, error) {
	ms, err := mountinfo.Read()
	if err != nil {
		return nil, err
	}
	var out []StaleMount
	for i := range ms {
		m := &ms[i]
		if m.FSType != "fuse.btfuse" || !probe(m) {
			continue
		}
		// Only the visible (topmost) mount at a point can be probed by path.
		if top := mountinfo.At(ms, m.Point); top == nil || top.ID != m.ID {
			continue
		}
		perr := probeOnce(m.Dev, m.Point, timeout)
		isHung := errors.Is(perr, errNoAnswer)
		if !isHung && !isDeadConn(perr) {
			continue
		}
		s := StaleMount{Point: m.Point, Source: m.Source, Dev: m.Dev, ID: m.Ident(), Hung: isHung}
		s.Holders, s.Files = HoldersOf(m.ID)
		out = append(out, s)
	}
	return out, nil
}

// probing holds the devices whose probe has not returned: a hung mount
// is probed once per process (status --watch would otherwise leave one
// more blocked thread behind at every refresh).
var probing sync.Map

// probeOnce is probeFUSE with a timeout of the caller's, and at most one
// probe of a mount at a time.
func probeOnce(dev uint64, dir string, timeout time.Duration) error {
	if _, busy := probing.LoadOrStore(dev, true); busy {
		return errNoAnswer
	}
	ch := make(chan error, 1)
	go func() {
		defer probing.Delete(dev)
		var sfs unix.Statfs_t
		ch <- unix.Statfs(dir, &sfs)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-ch:
		return err
	case <-t.C:
		return errNoAnswer
	}
}

// HoldersOf returns the processes that have descriptors open on the mount
// with id mntID, and how many, from /proc/PID/fdinfo/N (its mnt_id line,
// which needs no call into the filesystem: a dead FUSE mount would refuse
// a stat). Processes this user may not inspect are not counted. The mount
// must still be mounted: the id of a mount that is gone is given to the
// next one.
func HoldersOf(mntID uint64) (pids []int, files int) {
	procs, _ := os.ReadDir("/proc")
	want := strconv.FormatUint(mntID, 10)
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join("/proc", p.Name(), "fdinfo")
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		n := 0
		for _, fd := range fds {
			if fdMount(filepath.Join(dir, fd.Name())) == want {
				n++
			}
		}
		if n > 0 {
			pids = append(pids, pid)
			files += n
		}
	}
	slices.Sort(pids)
	return pids, files
}

// fdMount is the mnt_id of an fdinfo file, "" if unreadable.
func fdMount(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "mnt_id:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// releaseNote says what clearing a stale mount released, given the
// processes that held files open on it (HoldersOf) before: its memory at
// once, or when they close their files.
func releaseNote(pids []int, files int) string {
	if files == 0 {
		return "the dead daemon's files are released: nothing holds them open"
	}
	list := make([]string, 0, len(pids))
	for _, p := range pids[:min(len(pids), 8)] {
		list = append(list, strconv.Itoa(p))
	}
	if len(pids) > 8 {
		list = append(list, "...")
	}
	return fmt.Sprintf("the dead daemon's files stay in memory until the descriptors open on it are closed (%d, held by pids %s); what is written through them is lost",
		files, strings.Join(list, " "))
}

// sweepStores removes the file stores that dead daemons of this user left
// under /dev/shm (dir "" means /dev/shm: where a daemon that can create
// no private tmpfs keeps file contents, fsimpl.SweepShmBacking), and says
// so on w.
func sweepStores(dir string, w io.Writer) {
	removed, err := fsimpl.SweepShmBacking(dir)
	for _, p := range removed {
		fmt.Fprintf(w, "btfuse: removed %s, the file store of a daemon that died\n", p)
	}
	if err != nil {
		fmt.Fprintf(w, "btfuse: note: %v\n", err)
	}
}
