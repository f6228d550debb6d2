package supervisor

import (
	"strings"

	"golang.org/x/sys/unix"
)

// absPath makes path absolute from dirfd as thread tid sees it, and
// returns where the walk starts ("/" for an absolute path). It fails when
// the start is not a live directory path (a pipe, a deleted directory, a
// served file): the kernel must then judge.
func absPath(tid int, dirfd int32, path string) (full, start string, ok bool) {
	if strings.HasPrefix(path, "/") {
		return path, "/", true
	}
	if dirfd == unix.AT_FDCWD {
		start, ok = readlink(procPath(tid, "cwd"))
	} else {
		start, ok = readlink(procPath(tid, "fd/"+itoa(int(dirfd))))
	}
	if !ok || !strings.HasPrefix(start, "/") || strings.HasSuffix(start, " (deleted)") {
		return "", "", false
	}
	return start + "/" + path, start, true
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	neg := i < 0
	if neg {
		i = -i
	}
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			break
		}
	}
	if neg {
		n--
		b[n] = '-'
	}
	return string(b[n:])
}
