package event

import "golang.org/x/sys/unix"

// An errno is an expected outcome of an op when it is the ordinary answer
// to the question the op asks, so that programs ask it to learn the
// answer and carry on: status, trace and the metrics count it apart from
// failures, which are what an operator looks for. The classes:
//
//   - lookups: ENOENT from anything that resolves a name to learn whether
//     it exists (LOOKUP, stat, access, open without O_CREAT, readlink,
//     getxattr, chdir, ...): a shell's PATH search or a linker's library
//     search is a run of them.
//   - access checks: EACCES and EROFS from ACCESS and access(2), which ask
//     exactly that.
//   - extended attributes: ENODATA (no such attribute), ENOTSUP (that
//     namespace is not kept) and ERANGE (the size probe of a too-small
//     buffer), which cp -a, ls and tar meet on every file.
//   - exclusive creation: EEXIST from a create, mkdir, mknod, symlink or
//     link: mkdir -p and lock files rely on it.
//   - readlink of a non-link: EINVAL (realpath probes every component).
//   - LSEEK's ENXIO (SEEK_DATA or SEEK_HOLE past the data) and SETLK's
//     EAGAIN (a try-lock held by another).
//
// Anything else with an errno is an Error.

// errnoSet is a set of errnos below 128.
type errnoSet [2]uint64

func setOf(es ...unix.Errno) errnoSet {
	var s errnoSet
	for _, e := range es {
		if e < 128 {
			s[e/64] |= 1 << (e % 64)
		}
	}
	return s
}

func (s *errnoSet) has(e unix.Errno) bool { return e < 128 && s[e/64]&(1<<(e%64)) != 0 }

// The errno classes above, for the rows of expected and for Register.
var (
	ExpectLookup = []unix.Errno{unix.ENOENT}
	ExpectAccess = []unix.Errno{unix.ENOENT, unix.EACCES, unix.EROFS}
	ExpectXattr  = []unix.Errno{unix.ENOENT, unix.ENODATA, unix.ENOTSUP, unix.ERANGE}
	ExpectCreate = []unix.Errno{unix.EEXIST}
	// ExpectOpen is an open that may create: a lookup or an exclusive
	// create.
	ExpectOpen     = []unix.Errno{unix.ENOENT, unix.EEXIST}
	ExpectReadlink = []unix.Errno{unix.ENOENT, unix.EINVAL}
	// ExpectSetXattr: XATTR_CREATE of one that exists, XATTR_REPLACE
	// of one that does not, a namespace that is not kept.
	ExpectSetXattr = []unix.Errno{unix.ENOENT, unix.EEXIST, unix.ENODATA, unix.ENOTSUP}
)

// expected holds every op's expected errnos. Written only while packages
// are initialised (the FUSE ops here, the others by Register), then only
// read.
var expected = [MaxOps]errnoSet{
	OpLookup:      setOf(ExpectLookup...),
	OpAccess:      setOf(ExpectAccess...),
	OpGetXattr:    setOf(ExpectXattr...),
	OpListXattr:   setOf(ExpectXattr...),
	OpRemoveXattr: setOf(ExpectXattr...),
	OpSetXattr:    setOf(ExpectSetXattr...),
	OpCreate:      setOf(ExpectCreate...),
	OpMkdir:       setOf(ExpectCreate...),
	OpMknod:       setOf(ExpectCreate...),
	OpSymlink:     setOf(ExpectCreate...),
	OpLink:        setOf(ExpectCreate...),
	OpReadlink:    setOf(unix.EINVAL),
	OpLseek:       setOf(unix.ENXIO),
	OpSetLk:       setOf(unix.EAGAIN),
}

// Classify is the outcome of op answered with errno e (not 0): Expected
// or Error.
func Classify(op Op, e unix.Errno) Outcome {
	if op < MaxOps && expected[op].has(e) {
		return Expected
	}
	return Error
}
