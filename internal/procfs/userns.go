package procfs

import (
	"bytes"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// nsID identifies a namespace: the device and inode of its nsfs file.
type nsID struct{ dev, ino uint64 }

func userNS(path string) (nsID, bool) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nsID{}, false
	}
	return nsID{st.Dev, st.Ino}, true
}

// selfUserNS is this process's user namespace, which it never leaves.
var selfUserNS = sync.OnceValues(func() (nsID, bool) { return userNS("/proc/self/ns/user") })

// SameUserNS reports whether thread tid is in this process's user
// namespace, where the ids and capabilities in its status file mean what
// they mean to this process. It is false also when either namespace
// cannot be read (the thread is gone, or this process may not inspect it).
func SameUserNS(tid int) bool {
	self, ok := selfUserNS()
	if !ok {
		return false
	}
	ns, ok := userNS("/proc/" + strconv.Itoa(tid) + "/ns/user")
	return ok && ns == self
}

// IDExtent is one line of /proc/PID/uid_map or gid_map as this process
// reads it: Count ids starting at Outside, an id of this process's user
// namespace.
type IDExtent struct {
	Outside, Count uint32
}

// ReadIDMaps reads the uid and gid maps of thread tid's user namespace.
func ReadIDMaps(tid int) (uids, gids []IDExtent, ok bool) {
	base := "/proc/" + strconv.Itoa(tid) + "/"
	if uids, ok = readIDMap(base + "uid_map"); !ok {
		return nil, nil, false
	}
	gids, ok = readIDMap(base + "gid_map")
	return uids, gids, ok
}

// idMapBuf holds the longest map the kernel allows (340 lines of three
// 10-digit fields).
const idMapBuf = 16 << 10

func readIDMap(path string) ([]IDExtent, bool) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false
	}
	defer unix.Close(fd)
	buf := make([]byte, idMapBuf)
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, false
		}
		if m == 0 {
			break
		}
		n += m
	}
	return ParseIDMap(buf[:n])
}

// ParseIDMap parses the text of a uid_map or gid_map file: lines of
// "inside outside count". An empty map (not yet written) maps nothing.
func ParseIDMap(b []byte) ([]IDExtent, bool) {
	var out []IDExtent
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil, false // a cut-off line is not trusted
		}
		f := bytes.Fields(b[:i])
		b = b[i+1:]
		if len(f) != 3 {
			return nil, false
		}
		var v [3]uint32
		for j := range f {
			x, err := strconv.ParseUint(string(f[j]), 10, 32)
			if err != nil {
				return nil, false
			}
			v[j] = uint32(x)
		}
		out = append(out, IDExtent{Outside: v[1], Count: v[2]})
	}
	return out, true
}
