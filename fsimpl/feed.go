package fsimpl

// The change feed: every operation records what it changed, and once it
// has released FS.mu it tells the watchers, in its own goroutine, before
// it returns. A door that caches (the kernel behind the FUSE door) drops
// what it cached from the feed, so a change made through any other door
// is seen through it at once, without each caller remembering to say so.

// ChangeKind says what a Change is about.
type ChangeKind uint8

const (
	// ChangeNew: Name was created in Dir, as Ino.
	ChangeNew ChangeKind = iota + 1
	// ChangeGone: Name, which was Ino, left Dir.
	ChangeGone
	// ChangeEntry: Name in Dir names something else now, or nothing
	// (a rename away or over it).
	ChangeEntry
	// ChangeAttr: the attributes of Ino changed.
	ChangeAttr
	// ChangePerms: the mode or owner of Ino changed. Name in Dir is a
	// name it has, when the caller came by a path (Dir is 0 otherwise):
	// a door may have cached permission decisions on that entry.
	ChangePerms
	// ChangeData: the contents (and size) of Ino changed.
	ChangeData
)

// Change is one thing an operation changed.
type Change struct {
	Kind ChangeKind
	Dir  Ino
	Name string
	Ino  Ino
}

// Watcher is told of the changes of one operation that came through door
// from. It runs after the operation released FS.mu and may call the FS.
type Watcher func(from Door, changes []Change)

type watch struct {
	fn     Watcher
	except Door
}

// Watch registers fn for the changes made through every door but except
// (the door fn serves, whose own cache the kernel keeps), until the
// returned function is called.
func (fs *FS) Watch(fn Watcher, except Door) (cancel func()) {
	w := &watch{fn: fn, except: except}
	fs.watchMu.Lock()
	defer fs.watchMu.Unlock()
	fs.watchers.Store(ptrTo(append(fs.watcherList(), w)))
	return func() {
		fs.watchMu.Lock()
		defer fs.watchMu.Unlock()
		var keep []*watch
		for _, o := range fs.watcherList() {
			if o != w {
				keep = append(keep, o)
			}
		}
		fs.watchers.Store(&keep)
	}
}

func ptrTo[T any](v T) *T { return &v }

// watcherList is the current list of watchers; it is replaced, never
// changed in place, so publish can read it without a lock.
func (fs *FS) watcherList() []*watch {
	if l := fs.watchers.Load(); l != nil {
		return *l
	}
	return nil
}

// Changed publishes changes that fsimpl could not see being made: writes
// and truncations through descriptors handed out to other processes.
func (fs *FS) Changed(from Door, changes ...Change) {
	fs.publish(from, changes)
}

// changes collects what one operation changes.
type changes []Change

func (ch *changes) add(kind ChangeKind, dir *inode, name string, n *inode) {
	c := Change{Kind: kind, Name: name}
	if dir != nil {
		c.Dir = dir.ino
	}
	if n != nil {
		c.Ino = n.ino
	}
	*ch = append(*ch, c)
}

// publish tells the watchers. Call it with FS.mu released (callers defer
// it before they take the lock).
func (fs *FS) publish(from Door, ch []Change) {
	if len(ch) == 0 {
		return
	}
	for _, w := range fs.watcherList() {
		if w.except != from {
			w.fn(from, ch)
		}
	}
}
