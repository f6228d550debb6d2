package fsimpl

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// CheckView compares every slot and dentry of the view with the inodes
// and directories they mirror: nil when the view says exactly what fsimpl
// would write now.
func (fs *FS) CheckView() error {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	v := fs.view
	if v == nil {
		return fmt.Errorf("no view")
	}
	if len(v.dirtyIno) != 0 || len(v.dirtyDent) != 0 {
		return fmt.Errorf("changes left unwritten after an unlock")
	}
	r := &ViewReader{m: viewMem(v.mem)}
	for ino, s := range v.slotOf {
		n := fs.inodes[ino]
		if n == nil {
			return fmt.Errorf("inode %d is gone, its slot %d is not", ino, s)
		}
		if f := r.slotOfIno(ino); f != s {
			return fmt.Errorf("inode %d: the inode hash finds slot %d, want %d", ino, f, s)
		}
		got := r.attrAt(r.slot(s))
		a := fs.metaAttrLocked(n)
		want := ViewAttr{Attr: a, Flags: got.Flags, Grant: grantedToAllLocked(n), Priv: n.backPriv}
		if got != want {
			return fmt.Errorf("inode %d (slot %d): view %+v, inode %+v", ino, s, got, want)
		}
		var flags uint32
		if a.Volatile {
			flags |= viewFVolatile
		}
		if n.isDir() {
			if v.incomplete[ino] {
				flags |= viewFIncomplete
			}
			if grantedToAllLocked(n)&mayExec != 0 {
				flags |= viewFSearchAll
			}
			if followedByAllLocked(n) {
				flags |= viewFFollowAll
			}
			if p := int32(r.m.u32(r.slot(s) + viewInoParent)); p != v.slotOf[n.dir.parent.ino] {
				return fmt.Errorf("directory %d: parent slot %d, want %d", ino, p, v.slotOf[n.dir.parent.ino])
			}
			for _, e := range n.dir.ents {
				if e.child == nil {
					continue
				}
				c := r.lookup(s, e.name)
				cs, ok := v.slotOf[e.child.ino]
				if len(e.name) > ViewNameMax || !ok {
					if c >= 0 {
						return fmt.Errorf("%d/%s: in the view, should not be", ino, e.name)
					}
					continue
				}
				if c != cs {
					return fmt.Errorf("%d/%s: view slot %d, want %d", ino, e.name, c, cs)
				}
			}
		}
		if n.isLink() && len(n.target) <= ViewTargetMax {
			flags |= viewFTarget
			off := r.slot(s)
			if l := int(r.m.u32(off + viewInoTLen)); string(r.m[off+viewInoTarget:off+viewInoTarget+l]) != n.target {
				return fmt.Errorf("symlink %d: target differs", ino)
			}
			if due := int64(r.m.u64(off + viewInoLinkDue)); due != atimeSettledUntil(n) {
				return fmt.Errorf("symlink %d: atime due %d, want %d", ino, due, atimeSettledUntil(n))
			}
		}
		if got.Flags != flags {
			return fmt.Errorf("inode %d: flags %#x, want %#x", ino, got.Flags, flags)
		}
	}
	// Every dentry names a live entry.
	for k, d := range v.dentOf {
		off := v.dentOff(d)
		if int32(v.get32(off+viewDentDir)) != k.dir {
			return fmt.Errorf("dentry %d: directory slot differs", d)
		}
		var dir *inode
		for ino, s := range v.slotOf {
			if s == k.dir {
				dir = fs.inodes[ino]
			}
		}
		if dir == nil || !dir.isDir() || dir.dir.lookup(k.name) == nil {
			return fmt.Errorf("dentry %q in slot %d names nothing", k.name, k.dir)
		}
	}
	_ = unix.S_IFMT
	return nil
}
