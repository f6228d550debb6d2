package posixtest

import (
	"math/rand/v2"

	"golang.org/x/sys/unix"
)

// NameCreds are the identities GenerateNames runs steps as (besides root):
// two ordinary users and one, 1001, who is also in the group of 1000; 1002
// is in no one's group. They are fsimpl's test identities alice, bob and
// carol.
var NameCreds = [3]Cred{
	{UID: 1000, GID: 1000},
	{UID: 1001, GID: 1001, Groups: []uint32{1000}},
	{UID: 1002, GID: 1002},
}

// DanglingTarget is the target of every symlink GenerateNames makes: it
// never exists, so an operation that follows one gets ENOENT on both sides.
const DanglingTarget = "nowhere-at-all"

// GenerateNames returns the n operations of the names sequence of seed: the
// namespace, attribute and permission operations on a tree of two levels of
// fixed directories, with file types, modes, owners and credentials drawn
// from wide sets, and no descriptor kept across steps. It runs from a root
// of mode 0755 owned by root (OpenEngine), so that only what root opens up
// is writable by others. It is the vocabulary every door has, fsimpl's *At
// operations included.
func GenerateNames(seed uint64, n int) []Op {
	r := rand.New(rand.NewPCG(seed, 99))
	ops := make([]Op, n)
	for i := range ops {
		ops[i] = nameOp(r)
	}
	return ops
}

// nameOp draws one step. The order of the draws is part of what a seed
// means: keep it when changing the vocabulary.
func nameOp(r *rand.Rand) Op {
	parents := []string{"", "a", "a/b", "c", "c/d", "f", "a/x"}
	names := []string{"a", "b", "c", "d", "f", "x", "y"}
	path := func() string {
		name := names[r.IntN(len(names))]
		if r.IntN(25) == 0 {
			name = []string{".", ".."}[r.IntN(2)]
		}
		p := parents[r.IntN(len(parents))]
		if p == "" && name == ".." {
			name = "." // never climb out of the root
		}
		if p == "" {
			return name
		}
		return p + "/" + name
	}
	modes := []uint32{0o755, 0o777, 0o1777, 0o2775, 0o2777, 0o700, 0o644, 0o666, 0o600, 0o444, 0o555, 0o6755, 0o2745, 0o711, 0}
	ids := []int{0, 1000, 1001, 1002}
	var as *Cred
	if who := r.IntN(5); who >= 2 {
		c := NameCreds[who-2]
		as = &c
	}
	p := path()
	p2 := path()
	o := Op{As: as, Path: p, Mode: modes[r.IntN(len(modes))]}
	kinds := []OpKind{OpMkdir, OpMkdir, OpMknod, OpOpenFile, OpOpenFile, OpOpenFile, OpUnlink, OpRmdir, OpRename, OpRename, OpLink,
		OpSymlink, OpReadlink, OpChmod, OpChmod, OpChown, OpTruncate, OpUtimens, OpSetxattr, OpGetxattr, OpRemovexattr, OpAccess,
		OpWriteFile, OpWriteFile}
	o.Kind = kinds[r.IntN(len(kinds))]
	switch o.Kind {
	case OpMknod:
		t := []uint32{unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFREG, unix.S_IFCHR, unix.S_IFCHR}[r.IntN(5)]
		o.Mode |= t
		if t == unix.S_IFCHR && r.IntN(2) == 0 {
			o.Rdev = 0x0103
		}
	case OpOpenFile:
		o.Flags = unix.O_NOFOLLOW | []int{
			unix.O_CREAT | unix.O_EXCL | unix.O_RDWR, unix.O_CREAT | unix.O_WRONLY | unix.O_TRUNC,
			unix.O_RDONLY, unix.O_WRONLY, unix.O_RDWR | unix.O_TRUNC, unix.O_RDONLY | unix.O_TRUNC,
			unix.O_CREAT | unix.O_RDONLY, unix.O_WRONLY | unix.O_APPEND, unix.O_CREAT | unix.O_EXCL | unix.O_WRONLY,
		}[r.IntN(9)]
	case OpRename:
		o.Path2 = p2
		o.Flags = []int{0, 0, unix.RENAME_NOREPLACE, unix.RENAME_EXCHANGE, unix.RENAME_WHITEOUT}[r.IntN(5)]
	case OpLink:
		o.Path, o.Path2 = p2, p // link p as p2
	case OpSymlink:
		o.Path2 = DanglingTarget
	case OpReadlink:
		o.Len = 256
	case OpChown:
		o.UID, o.GID = ids[r.IntN(4)], ids[r.IntN(4)]
		o.NoFollow = true
	case OpTruncate:
		o.Off = []int64{0, 10, 5000}[r.IntN(3)]
	case OpWriteFile:
		o.Off, o.Len = []int64{0, 7, 9000, 1 << 33}[r.IntN(4)], 3
	case OpUtimens:
		o.NoFollow = true
		switch r.IntN(3) {
		case 0: // touch
			o.Times = [2]unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}
		case 1:
			o.Times = [2]unix.Timespec{{Sec: 1000}, {Sec: 2000}}
		default:
			o.Times = [2]unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_NOW}}
		}
	case OpSetxattr, OpGetxattr, OpRemovexattr:
		o.NoFollow = true
		o.Name = []string{"user.a", "user.b", "trusted.t"}[r.IntN(3)]
		o.Flags = []int{0, 0, unix.XATTR_CREATE, unix.XATTR_REPLACE}[r.IntN(4)]
		o.Len = map[OpKind]int64{OpSetxattr: 1, OpGetxattr: 64}[o.Kind]
	case OpAccess:
		o.Flags = r.IntN(8)
	}
	return o
}
