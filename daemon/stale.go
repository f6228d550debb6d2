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

	"github.com/btfuse/btfuse/fsimpl"
	"github.com/btfuse/btfuse/internal/mountinfo"
)

// StaleMount is a btfuse FUSE mount whose daemon is gone (or hangs).
type StaleMount struct {
	Point string
	ID    mountinfo.ID
	// Hung: the connection does not answer (its daemon is alive but
	// stuck, or stopped) rather than refusing (ENOTCONN: its daemon died).
	Hung bool
	// Holders are the processes that have files open on the mount, and
	// Files how many descriptors they hold in all (HoldersOf).
	Holders []int
	Files   int
}

// StaleMounts lists the btfuse mounts (fuse.btfuse) of this mount
// namespace whose daemon is gone: the kernel answers their statfs, which
// it always asks the daemon for, with ENOTCONN or ECONNABORTED. With hung
// set it also lists those whose statfs gets no answer within statTimeout.
// Either way a mount that does not answer costs statTimeout and leaves a
// goroutine waiting on it (the probes run one after the other). A dead
// daemon's mount keeps the daemon's data in memory for as long as it stays
// mounted (its connection holds the backing files that were open through
// passthrough) and then until the last descriptor open on it is closed.
// 'btfuse umount DIR' clears one.
//
// Probing holds a reference on each mount for the moment of the call,
// which can make a plain (not lazy) unmount of it by someone else fail
// with EBUSY at that moment: with points given, only the mounts there are
// probed.
func StaleMounts(hung bool, points ...string) ([]StaleMount, error) {
	ms, err := mountinfo.Read()
	if err != nil {
		return nil, err
	}
	var out []StaleMount
	for i := range ms {
		m := &ms[i]
		if m.FSType != "fuse.btfuse" || (len(points) > 0 && !slices.Contains(points, m.Point)) {
			continue
		}
		// Only the visible (topmost) mount at a point can be probed by path.
		if top := mountinfo.At(ms, m.Point); top == nil || top.ID != m.ID {
			continue
		}
		perr := probeFUSE(m.Point)
		isHung := errors.Is(perr, errNoAnswer)
		if !isDeadConn(perr) && !(hung && isHung) {
			continue
		}
		s := StaleMount{Point: m.Point, ID: m.Ident(), Hung: isHung}
		s.Holders, s.Files = HoldersOf(m.ID)
		out = append(out, s)
	}
	return out, nil
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
