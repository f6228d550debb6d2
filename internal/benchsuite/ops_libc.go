package benchsuite

// The path micro-operations loop in C, through libc's functions, as
// programs make them: the fast lane's library interposes libc, and Go's
// bare syscalls would never reach it (a Go program stays on the seccomp
// lane). Every mode runs the same loops, so that the ratios compare the
// lanes and nothing else. Descriptor operations (pread, the I/O loops)
// stay in Go: they are native in every mode.

/*
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int bench_stat(const char *p, long n)
{
	struct stat st;
	for (long i = 0; i < n; i++)
		if (stat(p, &st) != 0)
			return errno;
	return 0;
}

static int bench_openclose(const char *p, long n)
{
	for (long i = 0; i < n; i++) {
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return errno;
		close(fd);
	}
	return 0;
}

static int bench_openread(const char *p, long n, char *buf, long size)
{
	for (long i = 0; i < n; i++) {
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return errno;
		if (read(fd, buf, size) < 0) {
			int e = errno;
			close(fd);
			return e;
		}
		close(fd);
	}
	return 0;
}

static int bench_createwrite(char **names, long n, const char *buf, long size)
{
	for (long i = 0; i < n; i++) {
		int fd = open(names[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			return errno;
		if (write(fd, buf, size) != size) {
			int e = errno ? errno : EIO;
			close(fd);
			return e;
		}
		close(fd);
	}
	return 0;
}

static int bench_mkdir(char **names, long n)
{
	for (long i = 0; i < n; i++)
		if (mkdir(names[i], 0755) != 0)
			return errno;
	return 0;
}

static int bench_unlink(char **names, long n)
{
	for (long i = 0; i < n; i++)
		if (unlink(names[i]) != 0)
			return errno;
	return 0;
}

static int bench_readdir(const char *d, long n)
{
	for (long i = 0; i < n; i++) {
		DIR *dir = opendir(d);
		if (!dir)
			return errno;
		errno = 0;
		while (readdir(dir))
			;
		int e = errno;
		closedir(dir);
		if (e)
			return e;
	}
	return 0;
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cArgs are a state's paths as C strings, made before the timed loop.
// The operation's process exits after it, which frees them.
type cArgs struct {
	path  *C.char
	names **C.char
	buf   unsafe.Pointer
	size  C.long
}

// withC adds the C strings of prepare's paths to its state.
func withC(prepare func(dir string, n, arg int) (state, error)) func(dir string, n, arg int) (state, error) {
	return func(dir string, n, arg int) (state, error) {
		s, err := prepare(dir, n, arg)
		if err != nil {
			return s, err
		}
		c := &cArgs{path: C.CString(s.path)}
		if s.path == "" {
			c.path = C.CString(s.dir)
		}
		if len(s.names) > 0 {
			arr := (**C.char)(C.malloc(C.size_t(len(s.names)) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))
			elems := unsafe.Slice(arr, len(s.names))
			for i, name := range s.names {
				elems[i] = C.CString(name)
			}
			c.names = arr
		}
		if len(s.buf) > 0 {
			c.buf, c.size = C.CBytes(s.buf), C.long(len(s.buf))
		}
		s.c = c
		return s, nil
	}
}

func errnoOf(what string, r C.int) error {
	if r != 0 {
		return fmt.Errorf("%s: %w", what, unix.Errno(r))
	}
	return nil
}

// libcOps are the path micro-operations, looping in C.
func libcOps() map[string]op {
	return map[string]op{
		"stat": {prepare: withC(fileOf(0)), loop: func(s state, n int) error {
			return errnoOf("stat", C.bench_stat(s.c.path, C.long(n)))
		}},
		"statout": {prepare: withC(outsideFile), loop: func(s state, n int) error {
			return errnoOf("stat", C.bench_stat(s.c.path, C.long(n)))
		}},
		"openclose": {prepare: withC(fileOf(block4K)), loop: func(s state, n int) error {
			return errnoOf("open", C.bench_openclose(s.c.path, C.long(n)))
		}},
		"openread": {prepare: withC(fileOf(block4K)), loop: func(s state, n int) error {
			return errnoOf("open+read", C.bench_openread(s.c.path, C.long(n), (*C.char)(s.c.buf), s.c.size))
		}},
		"createwrite": {prepare: withC(namesOf("c")), loop: func(s state, n int) error {
			return errnoOf("create+write", C.bench_createwrite(s.c.names, C.long(n), (*C.char)(s.c.buf), s.c.size))
		}},
		"mkdir": {prepare: withC(namesOf("d")), loop: func(s state, n int) error {
			return errnoOf("mkdir", C.bench_mkdir(s.c.names, C.long(n)))
		}},
		"unlink": {prepare: withC(filesOf("u")), loop: func(s state, n int) error {
			return errnoOf("unlink", C.bench_unlink(s.c.names, C.long(n)))
		}},
		"readdir": {prepare: withC(readdirTree), loop: func(s state, n int) error {
			return errnoOf("readdir", C.bench_readdir(s.c.path, C.long(n)))
		}},
	}
}
