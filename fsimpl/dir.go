package fsimpl

import (
	"sort"

	"golang.org/x/sys/unix"
)

// Cookies of the two implicit entries; real entries start at firstCookie.
const (
	dotCookie    = 1
	dotDotCookie = 2
	firstCookie  = 3
)

// dirData is the body of a directory. Entries sit in an append-only slice
// in cookie order; removal leaves a tombstone (child == nil) so positions of
// the others do not move, and the slice is compacted when tombstones
// outnumber live entries. index maps a live name to its slot. Seeking to
// "first cookie > off" is a binary search, so a readdir offset stays valid
// (telldir/seekdir) however the directory changes: an entry present for a
// whole walk is returned exactly once, and a renamed-over or re-added name
// gets a new, larger cookie. All fields are guarded by FS.mu.
type dirData struct {
	parent *inode // ".."; the root is its own parent
	ents   []dirEnt
	index  map[string]int
	live   int
	next   uint64 // cookie for the next insertion
}

type dirEnt struct {
	cookie uint64
	name   string
	child  *inode // nil: removed
}

// compactMin is the slice length below which tombstones are left alone.
const compactMin = 32

func newDirData(parent *inode) *dirData {
	return &dirData{parent: parent, index: make(map[string]int), next: firstCookie}
}

// lookup returns the child called name, or nil.
func (d *dirData) lookup(name string) *inode {
	if i, ok := d.index[name]; ok {
		return d.ents[i].child
	}
	return nil
}

// add inserts a new entry with a fresh cookie. name must not be present.
func (d *dirData) add(name string, child *inode) {
	d.index[name] = len(d.ents)
	d.ents = append(d.ents, dirEnt{cookie: d.next, name: name, child: child})
	d.next++
	d.live++
}

// remove deletes name and returns its child (nil if absent).
func (d *dirData) remove(name string) *inode {
	i, ok := d.index[name]
	if !ok {
		return nil
	}
	child := d.ents[i].child
	d.ents[i].child = nil
	d.ents[i].name = ""
	delete(d.index, name)
	d.live--
	d.maybeCompact()
	return child
}

// set points the existing entry name at child, keeping its cookie (used by
// RENAME_EXCHANGE, where the name itself stays).
func (d *dirData) set(name string, child *inode) {
	if i, ok := d.index[name]; ok {
		d.ents[i].child = child
	}
}

func (d *dirData) maybeCompact() {
	if len(d.ents) < compactMin || len(d.ents) < 2*d.live {
		return
	}
	ents := make([]dirEnt, 0, d.live+d.live/2)
	for _, e := range d.ents {
		if e.child != nil {
			d.index[e.name] = len(ents)
			ents = append(ents, e)
		}
	}
	d.ents = ents
}

// seek returns the slot of the first entry whose cookie is greater than off.
func (d *dirData) seek(off uint64) int {
	return sort.Search(len(d.ents), func(i int) bool { return d.ents[i].cookie > off })
}

// size is what tmpfs reports as a directory's size: BOGO_DIRENT_SIZE for
// each entry plus two for "." and "..".
func (d *dirData) size() uint64 { return uint64(d.live+2) * bogoDirentSize }

// OpenDir checks that c may open directory ino for reading (mirrors
// fs/namei.c:may_open() for a directory with MAY_READ).
func (fs *FS) OpenDir(c *Cred, ino Ino) unix.Errno {
	c = cred(c)
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	n, e := fs.getLocked(ino)
	if e != 0 {
		return e
	}
	if !n.isDir() {
		return unix.ENOTDIR
	}
	return permissionLocked(c, n, mayRead)
}

// readDirBatch is how many entries ReadDir copies out per hold of FS.mu; fn
// runs without the lock, so it may call back into the FS.
const readDirBatch = 128

// ReadDir calls fn for the entries of directory ino whose cookie is greater
// than off, in cookie order, "." and ".." first (cookies 1 and 2), until fn
// returns false. A removed directory lists only "." and ".." (mirrors
// fs/libfs.c:dcache_readdir on an emptied directory).
//
// Each call updates the directory's atime under relatime rules, as
// fs/readdir.c:iterate_dir() -> file_accessed() does on tmpfs.
func (fs *FS) ReadDir(ino Ino, off uint64, fn func(Dirent) bool) unix.Errno {
	fs.touchAtime(ino)
	batch := make([]Dirent, 0, readDirBatch)
	for {
		batch = batch[:0]
		if e := fs.readDirBatch(ino, off, &batch); e != 0 {
			return e
		}
		if len(batch) == 0 {
			return 0
		}
		for _, d := range batch {
			if !fn(d) {
				return 0
			}
			off = d.Off
		}
	}
}

// readDirBatch appends up to readDirBatch entries after off to out.
func (fs *FS) readDirBatch(ino Ino, off uint64, out *[]Dirent) unix.Errno {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	n, e := fs.getLocked(ino)
	if e != 0 {
		return e
	}
	if !n.isDir() || n.dir == nil {
		return unix.ENOTDIR
	}
	d := n.dir
	if off < dotCookie {
		*out = append(*out, Dirent{Ino: n.ino, Mode: unix.S_IFDIR, Name: ".", Off: dotCookie})
	}
	if off < dotDotCookie {
		*out = append(*out, Dirent{Ino: d.parent.ino, Mode: unix.S_IFDIR, Name: "..", Off: dotDotCookie})
	}
	for i := d.seek(off); i < len(d.ents) && len(*out) < readDirBatch; i++ {
		e := d.ents[i]
		if e.child == nil {
			continue
		}
		*out = append(*out, Dirent{Ino: e.child.ino, Mode: e.child.mode & unix.S_IFMT, Name: e.name, Off: e.cookie})
	}
	return 0
}
