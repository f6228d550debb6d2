package procfs

import (
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
