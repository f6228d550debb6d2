// Package procfs reads what the doors need to know about a calling thread
// from /proc/TID/status: its thread group, credentials, capabilities and
// umask. Both
// doors learn only a thread id from the kernel (FUSE's in.Caller.Pid, a
// seccomp notification's pid), so this is where the rest comes from.
// TgidCache keeps the thread-to-process answers for those that need them
// per event (the event mirror, btfuse trace).
package procfs

import (
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Status is the part of /proc/TID/status the doors use.
type Status struct {
	Tgid  int
	Umask uint32 // 0o022 when the kernel does not say
	// Real, effective, saved and filesystem ids: permission checks use
	// the fs ids, access(2) the real ones, and a FUSE mount without
	// allow_other admits only a caller whose real, effective and saved
	// ids are all its owner's.
	RUID, EUID, SUID, FSUID uint32
	RGID, EGID, SGID, FSGID uint32
	Groups                  []uint32
	// Permitted and effective capabilities (CapPrm, CapEff), bits
	// 1 << CAP_*, relative to the thread's own user namespace.
	CapPrm, CapEff uint64
}

// statusBuf is enough for a status file up to the CapEff line in all but
// processes with very many supplementary groups; ReadStatus falls back to
// reading the whole file for those.
const statusBuf = 4096

// ReadStatus reads and parses /proc/TID/status. ok is false when the thread
// is gone or the file lacks one of the lines ParseStatus needs.
func ReadStatus(tid int) (st Status, ok bool) {
	path := "/proc/" + strconv.Itoa(tid) + "/status"
	var buf [statusBuf]byte
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return Status{}, false
	}
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || m <= 0 {
			break
		}
		n += m
	}
	unix.Close(fd)
	if st, ok = ParseStatus(buf[:n]); ok || n < len(buf) {
		return st, ok
	}
	// The Groups line pushed the capability lines past the buffer.
	all, err := os.ReadFile(path)
	if err != nil {
		return Status{}, false
	}
	return ParseStatus(all)
}

// statusLines is the number of lines ParseStatus needs: Uid, Gid, Groups,
// CapPrm and CapEff.
const statusLines = 5

// ParseStatus parses the text of a status file. Fields it does not find
// keep their zero value (Umask: 0o022); ok says that Uid, Gid, a complete
// Groups line, CapPrm and CapEff were all there. Nothing in b is trusted:
// malformed lines are skipped or make ok false.
func ParseStatus(b []byte) (st Status, ok bool) {
	st.Umask = 0o022
	seen := 0
	for len(b) > 0 && seen < statusLines {
		line := b
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break // a cut-off last line is not trusted
		}
		line, b = b[:i], b[i+1:]
		key, val, found := bytes.Cut(line, []byte{':'})
		if !found {
			continue
		}
		f := bytes.Fields(val)
		switch string(key) {
		case "Tgid":
			if len(f) == 1 {
				if v, err := strconv.Atoi(string(f[0])); err == nil && v > 0 {
					st.Tgid = v
				}
			}
		case "Umask":
			if len(f) == 1 {
				if v, err := strconv.ParseUint(string(f[0]), 8, 32); err == nil {
					st.Umask = uint32(v)
				}
			}
		case "Uid", "Gid":
			if len(f) != 4 {
				return st, false
			}
			var ids [4]uint32
			for i := range ids {
				v, err := strconv.ParseUint(string(f[i]), 10, 32)
				if err != nil {
					return st, false
				}
				ids[i] = uint32(v)
			}
			if key[0] == 'U' {
				st.RUID, st.EUID, st.SUID, st.FSUID = ids[0], ids[1], ids[2], ids[3]
			} else {
				st.RGID, st.EGID, st.SGID, st.FSGID = ids[0], ids[1], ids[2], ids[3]
			}
			seen++
		case "Groups":
			for _, g := range f {
				v, err := strconv.ParseUint(string(g), 10, 32)
				if err != nil {
					return st, false
				}
				st.Groups = append(st.Groups, uint32(v))
			}
			seen++
		case "CapPrm", "CapEff":
			if len(f) != 1 {
				return st, false
			}
			v, err := strconv.ParseUint(string(f[0]), 16, 64)
			if err != nil {
				return st, false
			}
			if key[3] == 'P' {
				st.CapPrm = v
			} else {
				st.CapEff = v
			}
			seen++
		}
	}
	return st, seen == statusLines
}
