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
// outnumber live entries. index maps a live name to its slot.
//
// Readdir walks the slice from the newest entry to the oldest, and every
// binding of a name (create, link, rename, both names of an exchange) takes
// a fresh cookie, larger than all before it. This is tmpfs's order since it
// iterates d_children (fs/libfs.c:offset_iterate_dir() and
// find_positive_dentry()), where fs/dcache.c:d_alloc() and __d_move() put a
// new or moved dentry at the head. A walk resumes "below" the last cookie it
// returned, so an entry bound after the walk started lies behind it: a walk
// never returns a name twice, never returns an entry renamed after it was
// read, misses one renamed before it was reached, and ends however fast
// names are bound into the directory. Seeking is a binary search, so a
// cookie stays valid (telldir/seekdir) however the directory changes. All
// fields are guarded by FS.mu.
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

// add binds name to child as the newest entry, with a fresh cookie. name
// must not be present.
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

// start returns the slot where a walk resuming after cookie off begins,
// or -1 when nothing is left: the newest entry after "." and "..", else the
// newest entry older than off. Walks go downwards from there.
func (d *dirData) start(off uint64) int {
	if off <= dotDotCookie {
		return len(d.ents) - 1
	}
	return sort.Search(len(d.ents), func(i int) bool { return d.ents[i].cookie >= off }) - 1
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

// ReadDir calls fn for the entries of directory ino that come after cookie
// off, until fn returns false: "." and ".." first (cookies 1 and 2), then
// the others from the newest to the oldest (see dirData). Dirent.Off is the
// cookie to pass back to continue after that entry. A removed directory
// lists only "." and ".." (mirrors fs/libfs.c:dcache_readdir on an emptied
// directory).
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
	for i := d.start(off); i >= 0 && len(*out) < readDirBatch; i-- {
		e := d.ents[i]
		if e.child == nil {
			continue
		}
		*out = append(*out, Dirent{Ino: e.child.ino, Mode: e.child.mode & unix.S_IFMT, Name: e.name, Off: e.cookie})
	}
	return 0
}
