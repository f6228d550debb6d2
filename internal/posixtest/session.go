package posixtest

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Case is one named conformance case. Run performs operations in s.Dir, a
// fresh directory owned by root with mode 0755, through the recording
// methods of s.
type Case struct {
	Name string
	Run  func(s *S)
}

// Transcript is what a case produced: the observable results, line by line,
// and the hand-written expectations it violated. It is JSON-encodable so a
// child process can hand it back.
type Transcript struct {
	Lines    []string `json:"lines"`
	Failures []string `json:"failures,omitempty"`
}

// S is the session a case runs in. Its methods perform one operation each
// on a path relative to Dir, record the outcome and return it.
type S struct {
	// Dir is the absolute path of the case's directory.
	Dir string
	tr  Transcript
	fds map[int]bool // open descriptors, closed when the case ends
}

// fatal is the panic value of S.Fatalf: it ends the case, not the process.
type fatal struct{}

// RunCase runs c in a new directory root/c.Name and returns its transcript.
// A panic in the case becomes a failure. Descriptors the case left open are
// closed.
func RunCase(c Case, root string) (tr Transcript) {
	s := &S{Dir: filepath.Join(root, c.Name), fds: map[int]bool{}}
	defer func() {
		for fd := range s.fds {
			sys.Close(fd)
		}
		if p := recover(); p != nil {
			if _, ok := p.(fatal); !ok {
				s.tr.Failures = append(s.tr.Failures, fmt.Sprintf("panic: %v\n%s", p, debug.Stack()))
			}
		}
		tr = s.tr
	}()
	if err := sys.Mkdir(s.Dir, 0o755); err != nil {
		s.Fatalf("mkdir case dir: %v", err)
	}
	if err := sys.Chmod(s.Dir, 0o755); err != nil {
		s.Fatalf("chmod case dir: %v", err)
	}
	c.Run(s)
	return tr
}

// Logf records a line of the transcript.
func (s *S) Logf(format string, args ...any) {
	s.tr.Lines = append(s.tr.Lines, fmt.Sprintf(format, args...))
}

// Errorf records a violated expectation; the case goes on.
func (s *S) Errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.tr.Failures = append(s.tr.Failures, fmt.Sprintf("after line %d: %s", len(s.tr.Lines), msg))
	s.Logf("FAILED: %s", msg)
}

// Fatalf records a violated expectation and ends the case.
func (s *S) Fatalf(format string, args ...any) {
	s.Errorf(format, args...)
	panic(fatal{})
}

// Want pins an errno by hand: what failed with got where want was expected.
func (s *S) Want(what string, got, want unix.Errno) {
	if got != want {
		s.Errorf("%s: got %s, want %s", what, ErrnoString(got), ErrnoString(want))
	}
}

// Check records a failure unless cond holds.
func (s *S) Check(cond bool, format string, args ...any) {
	if !cond {
		s.Errorf(format, args...)
	}
}

// Must ends the case when an operation that sets the scene fails.
func (s *S) Must(what string, e unix.Errno) {
	if e != 0 {
		s.Fatalf("%s: %s", what, ErrnoString(e))
	}
}

// Path returns the absolute path of p, relative to Dir ("" is Dir itself).
func (s *S) Path(p string) string {
	if p == "" {
		return s.Dir
	}
	return s.Dir + "/" + p
}

// Errno turns a syscall error into its errno: 0 for nil, EIO for an error
// that carries none (it is recorded as such, so it still shows in a diff).
func Errno(err error) unix.Errno {
	if err == nil {
		return 0
	}
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return unix.EIO
}

// ErrnoString names an errno: "ok" for 0, "ENOENT" and so on.
func ErrnoString(e unix.Errno) string {
	if e == 0 {
		return "ok"
	}
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return fmt.Sprintf("errno(%d)", int(e))
}

// FormatStat renders the fields of st that any POSIX filesystem must agree
// on: type, permission bits, link count, owner, and for non-directories the
// size; for regular files also the allocated blocks.
func FormatStat(st *unix.Stat_t) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %04o nlink=%d uid=%d gid=%d", typeName(st.Mode), st.Mode&0o7777, st.Nlink, st.Uid, st.Gid)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
	case unix.S_IFREG:
		fmt.Fprintf(&b, " size=%d blocks=%d", st.Size, st.Blocks)
	case unix.S_IFCHR, unix.S_IFBLK:
		fmt.Fprintf(&b, " rdev=%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	default:
		fmt.Fprintf(&b, " size=%d", st.Size)
	}
	return b.String()
}

func typeName(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "reg"
	case unix.S_IFDIR:
		return "dir"
	case unix.S_IFLNK:
		return "lnk"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFSOCK:
		return "sock"
	case unix.S_IFCHR:
		return "chr"
	case unix.S_IFBLK:
		return "blk"
	}
	return fmt.Sprintf("type(%o)", mode&unix.S_IFMT)
}

// direntType names a d_type value like typeName names a mode.
func direntType(t uint8) string {
	switch t {
	case unix.DT_REG:
		return "reg"
	case unix.DT_DIR:
		return "dir"
	case unix.DT_LNK:
		return "lnk"
	case unix.DT_FIFO:
		return "fifo"
	case unix.DT_SOCK:
		return "sock"
	case unix.DT_CHR:
		return "chr"
	case unix.DT_BLK:
		return "blk"
	case unix.DT_UNKNOWN:
		return "unknown"
	}
	return fmt.Sprintf("dtype(%d)", t)
}

// Summary renders file contents short enough for a transcript line.
func Summary(b []byte) string {
	if len(b) <= 48 {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("len=%d sha256=%s", len(b), ShortHash(b))
}

var openFlagNames = []struct {
	flag int
	name string
}{
	{unix.O_CREAT, "O_CREAT"}, {unix.O_EXCL, "O_EXCL"}, {unix.O_TRUNC, "O_TRUNC"},
	{unix.O_APPEND, "O_APPEND"}, {unix.O_DIRECTORY, "O_DIRECTORY"}, {unix.O_NOFOLLOW, "O_NOFOLLOW"},
	{unix.O_PATH, "O_PATH"}, {unix.O_NONBLOCK, "O_NONBLOCK"}, {unix.O_SYNC, "O_SYNC"},
	{unix.O_TMPFILE &^ unix.O_DIRECTORY, "O_TMPFILE"},
}

// FormatOpenFlags renders open flags symbolically; O_CLOEXEC is left out.
func FormatOpenFlags(flags int) string {
	parts := []string{[]string{"O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"}[flags&unix.O_ACCMODE]}
	rest := flags &^ (unix.O_ACCMODE | unix.O_CLOEXEC | unix.O_LARGEFILE)
	for _, f := range openFlagNames {
		if rest&f.flag == f.flag {
			parts = append(parts, f.name)
			rest &^= f.flag
		}
	}
	if rest != 0 {
		parts = append(parts, fmt.Sprintf("%#x", rest))
	}
	return strings.Join(parts, "|")
}

// sortedLines returns a sorted copy.
func sortedLines(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}
