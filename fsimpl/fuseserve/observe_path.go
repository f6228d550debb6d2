package fuseserve

import (
	"strings"
	"sync"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// maxPaths bounds the path cache; past it, new nodes are traced by inode
// number only.
const maxPaths = 1 << 16

// pathCache remembers, for each node the kernel holds, the path from the
// root ("/a/b") by which the FUSE door last named it, so that an observed
// request on a node id (GETATTR, OPEN, READ...) can be traced by path. It
// learns paths from entry replies (LOOKUP, CREATE, MKDIR, MKNOD, SYMLINK,
// LINK), follows RENAME (a directory's cached descendants too), and drops a
// node when the kernel forgets it. Nodes the kernel learned from
// READDIRPLUS are unknown until looked up. A hard-linked file shows the
// last name it was reached by.
//
// Reads (the hot path of every observed request) are lock-free sync.Map
// loads and do not allocate; writes are serialised by mu.
type pathCache struct {
	paths sync.Map // uint64 node id -> string path; written with mu held

	mu     sync.Mutex
	byPath map[string]uint64   // path -> node id; guarded by mu
	dirs   map[uint64]struct{} // node ids of directories; guarded by mu
	n      int                 // entries in paths; guarded by mu
}

func newPathCache() *pathCache {
	c := &pathCache{byPath: map[string]uint64{}, dirs: map[uint64]struct{}{}}
	c.paths.Store(uint64(fuse.FUSE_ROOT_ID), "/")
	return c
}

// get returns the path of node id, "" if unknown.
func (c *pathCache) get(id uint64) string {
	if v, ok := c.paths.Load(id); ok {
		return v.(string)
	}
	return ""
}

// join is dir + "/" + name without a double slash at the root.
func join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// isJoin reports whether p == join(dir, name), without building it.
func isJoin(p, dir, name string) bool {
	if dir == "/" {
		return len(p) == 1+len(name) && p[0] == '/' && p[1:] == name
	}
	return len(p) == len(dir)+1+len(name) && strings.HasPrefix(p, dir) && p[len(dir)] == '/' && p[len(dir)+1:] == name
}

// entry records that node id (a directory if dir) is called name in
// directory parent. It allocates only when the path is new.
func (c *pathCache) entry(parent uint64, name string, id uint64, dir bool) {
	if id == 0 || id == fuse.FUSE_ROOT_ID {
		return
	}
	dp := c.get(parent)
	if dp == "" {
		return
	}
	if old := c.get(id); old != "" && isJoin(old, dp, name) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(id, join(dp, name))
	if dir {
		c.dirs[id] = struct{}{}
	}
}

// setLocked points id at p.
//
// Preconditions: c.mu is held.
func (c *pathCache) setLocked(id uint64, p string) {
	if v, ok := c.paths.Load(id); ok {
		if old := v.(string); c.byPath[old] == id {
			delete(c.byPath, old)
		}
	} else {
		if c.n >= maxPaths {
			return
		}
		c.n++
	}
	c.paths.Store(id, p)
	c.byPath[p] = id
}

// unlink notes that name is gone from parent. The node keeps its path:
// requests on a file still open after its unlink are traced by it.
func (c *pathCache) unlink(parent uint64, name string) {
	dir := c.get(parent)
	if dir == "" {
		return
	}
	p := join(dir, name)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byPath, p)
}

// rename follows a successful RENAME (or RENAME_EXCHANGE, exchange set).
func (c *pathCache) rename(oldParent uint64, oldName string, newParent uint64, newName string, exchange bool) {
	od, nd := c.get(oldParent), c.get(newParent)
	if od == "" || nd == "" {
		return
	}
	op, np := join(od, oldName), join(nd, newName)
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.byPath[op]
	other, otherOK := c.byPath[np]
	delete(c.byPath, op)
	delete(c.byPath, np)
	if ok {
		c.moveLocked(id, op, np)
	}
	if exchange && otherOK {
		c.moveLocked(other, np, op)
	}
}

// moveLocked gives id path np instead of op, and every cached path under
// op the same new prefix (O(cached nodes), only for directories).
//
// Preconditions: c.mu is held.
func (c *pathCache) moveLocked(id uint64, op, np string) {
	c.setLocked(id, np)
	if _, ok := c.dirs[id]; !ok {
		return
	}
	prefix := op + "/"
	var under []uint64
	c.paths.Range(func(k, v any) bool {
		if strings.HasPrefix(v.(string), prefix) {
			under = append(under, k.(uint64))
		}
		return true
	})
	for _, k := range under {
		if v, ok := c.paths.Load(k); ok {
			c.setLocked(k, np+"/"+strings.TrimPrefix(v.(string), prefix))
		}
	}
}

// forget drops node id (the kernel no longer holds it).
func (c *pathCache) forget(id uint64) {
	if id == fuse.FUSE_ROOT_ID {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.paths.LoadAndDelete(id)
	if !ok {
		return
	}
	c.n--
	delete(c.dirs, id)
	if p := v.(string); c.byPath[p] == id {
		delete(c.byPath, p)
	}
}
