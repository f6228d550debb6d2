package posixtest

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"golang.org/x/sys/unix"
)

// OpKind is the operation of a random step.
type OpKind uint8

const (
	OpMkdir OpKind = iota
	OpRmdir
	OpUnlink
	OpMknod
	OpOpen
	OpClose
	OpPwrite
	OpPread
	OpTruncate
	OpFtruncate
	OpFallocate
	OpLseek
	OpFsync
	OpRename
	OpLink
	OpSymlink
	OpReadlink
	OpChmod
	OpChown
	OpUtimens
	OpStat
	OpLstat
	OpFstat
	OpAccess
	OpReaddir
	OpSetxattr
	OpGetxattr
	OpListxattr
	OpRemovexattr
	// OpOpenFile opens, describes and closes at once, and reports
	// anything but a regular file as "not regular": the kinds below are
	// drawn only by GenerateNames, whose sequences also run against
	// fsimpl's *At operations, which leave other opens to the door.
	OpOpenFile
	// OpWriteFile opens for writing, pwrites and closes at once.
	OpWriteFile
	numOpKinds
)

var opNames = [numOpKinds]string{
	"mkdir", "rmdir", "unlink", "mknod", "open", "close", "pwrite", "pread", "truncate", "ftruncate",
	"fallocate", "lseek", "fsync", "rename", "link", "symlink", "readlink", "chmod", "chown", "utimens",
	"stat", "lstat", "fstat", "access", "readdir", "setxattr", "getxattr", "listxattr", "removexattr",
	"openfile", "writefile",
}

// opWeights: how often Generate draws each kind, per 1000.
var opWeights = [numOpKinds]int{
	OpMkdir: 35, OpRmdir: 45, OpUnlink: 60, OpMknod: 8, OpOpen: 110, OpClose: 25, OpPwrite: 70,
	OpPread: 45, OpTruncate: 30, OpFtruncate: 20, OpFallocate: 25, OpLseek: 25, OpFsync: 5,
	OpRename: 80, OpLink: 35, OpSymlink: 35, OpReadlink: 15, OpChmod: 35, OpChown: 20, OpUtimens: 25,
	OpStat: 40, OpLstat: 30, OpFstat: 15, OpAccess: 20, OpReaddir: 32, OpSetxattr: 45,
	OpGetxattr: 30, OpListxattr: 20, OpRemovexattr: 20,
}

// NumSlots is the number of descriptor slots a random sequence uses.
const NumSlots = 4

// Op is one step of a random sequence. Sequences are generated from a seed
// alone, never from results, so a sequence can be replayed and shrunk.
type Op struct {
	Kind     OpKind
	Path     string
	Path2    string // rename and link destination, symlink target
	Flags    int    // open, rename, xattr, fallocate, utimensat, access or lseek flags
	Mode     uint32
	Rdev     uint64 // mknod
	Off, Len int64  // offsets and sizes; Len is a buffer size for reads
	Slot     int    // descriptor ops use the first open slot from here on
	Seed     uint64 // data of writes and xattr values
	UID, GID int
	Times    [2]unix.Timespec
	Name     string // xattr name
	As       *Cred  // run as this user instead of root
	NoFollow bool   // l* variant
}

func (o Op) String() string {
	var b strings.Builder
	b.WriteString(opNames[o.Kind])
	if o.NoFollow {
		b.WriteString("(nofollow)")
	}
	if o.As != nil {
		fmt.Fprintf(&b, " as=%d", o.As.UID)
	}
	switch o.Kind {
	case OpClose, OpFsync, OpFstat:
		fmt.Fprintf(&b, " slot=%d", o.Slot)
	case OpOpen:
		fmt.Fprintf(&b, " %q %s %04o slot=%d", o.Path, FormatOpenFlags(o.Flags), o.Mode, o.Slot)
	case OpOpenFile:
		fmt.Fprintf(&b, " %q %s %04o", o.Path, FormatOpenFlags(o.Flags), o.Mode)
	case OpWriteFile:
		fmt.Fprintf(&b, " %q off=%d len=%d seed=%d", o.Path, o.Off, o.Len, o.Seed)
	case OpPwrite:
		fmt.Fprintf(&b, " slot=%d off=%d len=%d seed=%d", o.Slot, o.Off, o.Len, o.Seed)
	case OpPread:
		fmt.Fprintf(&b, " slot=%d off=%d len=%d", o.Slot, o.Off, o.Len)
	case OpFtruncate:
		fmt.Fprintf(&b, " slot=%d size=%d", o.Slot, o.Off)
	case OpTruncate:
		fmt.Fprintf(&b, " %q size=%d", o.Path, o.Off)
	case OpFallocate:
		fmt.Fprintf(&b, " slot=%d mode=%#x off=%d len=%d", o.Slot, o.Flags, o.Off, o.Len)
	case OpLseek:
		fmt.Fprintf(&b, " slot=%d off=%d %s", o.Slot, o.Off, whenceNames[o.Flags])
	case OpRename:
		fmt.Fprintf(&b, " %q %q %s", o.Path, o.Path2, renameFlagNames[uint(o.Flags)])
	case OpLink, OpSymlink:
		fmt.Fprintf(&b, " %q %q", o.Path2, o.Path)
	case OpChmod, OpMkdir:
		fmt.Fprintf(&b, " %q %04o", o.Path, o.Mode)
	case OpMknod:
		fmt.Fprintf(&b, " %q %s %04o rdev=%#x", o.Path, typeName(o.Mode), o.Mode&0o7777, o.Rdev)
	case OpChown:
		fmt.Fprintf(&b, " %q %d %d", o.Path, o.UID, o.GID)
	case OpUtimens:
		fmt.Fprintf(&b, " %q %s", o.Path, formatTimes(o.Times[:]))
	case OpAccess:
		fmt.Fprintf(&b, " %q %o", o.Path, o.Flags)
	case OpReadlink:
		fmt.Fprintf(&b, " %q bufsize=%d", o.Path, o.Len)
	case OpSetxattr:
		fmt.Fprintf(&b, " %q %s len=%d seed=%d %s", o.Path, o.Name, o.Len, o.Seed, xattrFlagName(o.Flags))
	case OpGetxattr:
		fmt.Fprintf(&b, " %q %s bufsize=%d", o.Path, o.Name, o.Len)
	case OpListxattr:
		fmt.Fprintf(&b, " %q bufsize=%d", o.Path, o.Len)
	case OpRemovexattr:
		fmt.Fprintf(&b, " %q %s", o.Path, o.Name)
	default:
		fmt.Fprintf(&b, " %q", o.Path)
	}
	return b.String()
}

// Generate returns the n operations of the sequence of seed.
func Generate(seed uint64, n int) []Op {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	ops := make([]Op, n)
	for i := range ops {
		ops[i] = g.op()
	}
	return ops
}

type gen struct{ r *rand.Rand }

var genNames = []string{"a", "b", "c"}

// path draws a name of at most three components from a tiny alphabet, so
// that collisions, ENOENT, ENOTDIR, ENOTEMPTY and friends are common. A ".."
// appears only after a real component, and symlink targets never climb, so
// no path leaves the root the sequence runs in.
func (g *gen) path() string {
	depth := 1 + g.r.IntN(3)
	parts := make([]string, 0, depth+2)
	for i := 0; i < depth; i++ {
		parts = append(parts, genNames[g.r.IntN(len(genNames))])
	}
	switch x := g.r.IntN(100); {
	case x < 3 && depth > 1:
		parts[1] = ".."
	case x < 5:
		parts = append(parts, ".")
	}
	p := strings.Join(parts, "/")
	if g.r.IntN(100) < 3 {
		p += "/"
	}
	return p
}

// target is a symlink target: a relative path going down only, or now and
// then one that does not resolve.
func (g *gen) target() string {
	if g.r.IntN(10) == 0 {
		return "none"
	}
	depth := 1 + g.r.IntN(2)
	parts := make([]string, depth)
	for i := range parts {
		parts[i] = genNames[g.r.IntN(len(genNames))]
	}
	return strings.Join(parts, "/")
}

// offset draws from regions around interesting places: the start, page
// boundaries, 1 MiB, just below and past 4 GiB, and far out.
func (g *gen) offset() int64 {
	bases := []int64{0, 0, 0, 4096, 65536, 1 << 20, 1<<32 - 4096, 5 << 30, 1 << 40}
	base := bases[g.r.IntN(len(bases))]
	switch g.r.IntN(3) {
	case 0:
		return base
	case 1:
		return base + int64(g.r.IntN(8))*4096
	}
	return base + int64(g.r.IntN(20000))
}

func (g *gen) length() int64 {
	lens := []int64{0, 1, 7, 100, 4096, 5000, 12288, 65536 + 7}
	return lens[g.r.IntN(len(lens))]
}

func (g *gen) mode() uint32 {
	if g.r.IntN(3) == 0 {
		return uint32(g.r.IntN(0o10000))
	}
	modes := []uint32{0o644, 0o755, 0o600, 0o777, 0o700, 0o444, 0o000, 0o1777, 0o2775, 0o4755}
	return modes[g.r.IntN(len(modes))]
}

func (g *gen) op() Op {
	x := g.r.IntN(1000)
	var k OpKind
	for k = 0; k < numOpKinds-1; k++ {
		if x < opWeights[k] {
			break
		}
		x -= opWeights[k]
	}
	o := Op{Kind: k, Path: g.path(), Slot: g.r.IntN(NumSlots), Seed: g.r.Uint64()}
	if g.r.IntN(100) < 10 {
		who := []Cred{Alice, Bob}[g.r.IntN(2)]
		o.As = &who
	}
	switch k {
	case OpChown, OpUtimens, OpSetxattr, OpGetxattr, OpListxattr, OpRemovexattr:
		o.NoFollow = g.r.IntN(4) == 0
	}
	switch k {
	case OpMkdir:
		o.Mode = g.mode()
	case OpMknod:
		o.Mode = unix.S_IFIFO | g.mode()&0o777
	case OpOpen:
		o.Flags = []int{unix.O_RDONLY, unix.O_WRONLY, unix.O_RDWR}[g.r.IntN(3)]
		for _, f := range []struct {
			flag, pct int
		}{{unix.O_CREAT, 65}, {unix.O_EXCL, 10}, {unix.O_TRUNC, 12}, {unix.O_APPEND, 12}, {unix.O_DIRECTORY, 3}, {unix.O_NOFOLLOW, 4}} {
			if g.r.IntN(100) < f.pct {
				o.Flags |= f.flag
			}
		}
		o.Mode = g.mode()
	case OpPwrite:
		o.Off, o.Len = g.offset(), g.length()
	case OpPread:
		o.Off, o.Len = g.offset(), g.length()
	case OpTruncate, OpFtruncate:
		o.Off = g.offset()
		if g.r.IntN(4) == 0 {
			o.Off = int64(g.r.IntN(10))
		}
	case OpFallocate:
		o.Flags = []int{0, unix.FALLOC_FL_KEEP_SIZE, punchHole, punchHole, unix.FALLOC_FL_PUNCH_HOLE, unix.FALLOC_FL_ZERO_RANGE}[g.r.IntN(6)]
		if o.Flags == unix.FALLOC_FL_ZERO_RANGE && o.As != nil {
			// Kernel quirk (fs/fuse/file.c:fuse_file_fallocate): FUSE
			// drops setuid/setgid (file_modified) before it sends a
			// FALLOCATE that tmpfs then refuses, so an unprivileged
			// refused ZERO_RANGE costs the bits on any FUSE mount but
			// not on tmpfs. No server can undo it; it is pinned by
			// fuseserve's TestQuirkRefusedFallocateKillsSUID and kept
			// out of the random sequences. Root (CAP_FSETID) keeps it.
			o.As = nil
		}
		o.Off, o.Len = g.offset(), g.length()
		if g.r.IntN(200) == 0 {
			o.Len = 1 << 20
		}
	case OpLseek:
		o.Flags = []int{unix.SEEK_SET, unix.SEEK_CUR, unix.SEEK_END, unix.SEEK_DATA, unix.SEEK_HOLE}[g.r.IntN(5)]
		o.Off = g.offset()
	case OpRename:
		o.Path2 = g.path()
		o.Flags = []int{0, 0, 0, 0, unix.RENAME_NOREPLACE, unix.RENAME_EXCHANGE}[g.r.IntN(6)]
	case OpLink:
		o.Path2 = g.path()
	case OpSymlink:
		o.Path2 = g.target()
	case OpReadlink:
		o.Len = []int64{1, 3, 4096}[g.r.IntN(3)]
	case OpChmod:
		o.Mode = g.mode()
	case OpChown:
		o.UID = []int{-1, 0, 1000, 1001}[g.r.IntN(4)]
		o.GID = []int{-1, 0, 1000, 3000}[g.r.IntN(4)]
		if o.UID == -1 && o.GID == -1 && o.As != nil {
			// Kernel quirk (fs/fuse/dir.c:fuse_setattr): chown(-1, -1)
			// by a non-owner of a setuid/setgid file is EPERM on tmpfs
			// but drops the bits through FUSE, which sends it as the
			// same empty SETATTR as a write's privilege drop. Pinned by
			// fuseserve's TestQuirkNoopChownKillsSUID; the supervised
			// door gets it right (supervisor's TestRunNoopChown).
			o.As = nil
		}
	case OpUtimens:
		for i := range o.Times {
			switch g.r.IntN(4) {
			case 0:
				o.Times[i] = unix.Timespec{Nsec: unix.UTIME_NOW}
			case 1:
				o.Times[i] = unix.Timespec{Nsec: unix.UTIME_OMIT}
			default:
				o.Times[i] = unix.Timespec{Sec: 1e9 + g.r.Int64N(5e8), Nsec: g.r.Int64N(1e9)}
			}
		}
	case OpAccess:
		o.Flags = []int{unix.F_OK, unix.R_OK, unix.W_OK, unix.X_OK, unix.R_OK | unix.W_OK}[g.r.IntN(5)]
	case OpSetxattr, OpGetxattr, OpRemovexattr:
		o.Name = []string{"user.a", "user.b", "trusted.c", "user." + strings.Repeat("x", 200)}[g.r.IntN(4)]
		o.Flags = []int{0, 0, unix.XATTR_CREATE, unix.XATTR_REPLACE}[g.r.IntN(4)]
		o.Len = []int64{0, 3, 100, 1000, 5000}[g.r.IntN(5)]
	case OpListxattr:
		o.Len = []int64{0, 5, 1000}[g.r.IntN(3)]
	}
	return o
}
