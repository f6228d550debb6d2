package control

import (
	"context"
	"errors"
	"fmt"

	"github.com/btfuse/btfuse/internal/mountinfo"
)

// The registry is keyed by the path a daemon mounted on, but a path names
// whatever is there now: a directory above the mount can be renamed, and
// the old path taken by a plain directory or a symbolic link. So a daemon
// is matched to a directory by its mount's identity (Info.MountID and
// Info.Dev), never by the name alone, and a command is never handed to a
// daemon whose mount is not at the directory it was given.

// MovedError reports that the daemon registered for Mount has its mount
// somewhere else now (Point), or nowhere in this mount namespace (Point
// "").
type MovedError struct {
	Mount string
	PID   int
	Point string
}

func (e *MovedError) Error() string {
	if e.Point == "" {
		return fmt.Sprintf("%s is not the mount of btfuse daemon pid %d registered for it: that mount is not in this mount namespace any more; stop the daemon with 'btfuse umount %s'",
			e.Mount, e.PID, e.Mount)
	}
	return fmt.Sprintf("%s is not the mount of btfuse daemon pid %d registered for it: that mount is at %s now (a directory above it was renamed); use %s, or stop the daemon with 'btfuse umount %s'",
		e.Mount, e.PID, e.Point, e.Point, e.Point)
}

// Resolve returns the entry of the daemon whose mount is at dir now (dir
// in any form Canonical accepts), according to this process's mount
// table: the one registered for dir while its mount is still there (maybe
// with another mounted over it), otherwise the one whose mount was moved
// to dir by a rename above it. It fails with *MovedError when the daemon
// registered for dir has its mount elsewhere and none is at dir, and with
// ErrNotRunning when no daemon is registered for dir or its mount.
func (r *Registry) Resolve(ctx context.Context, dir string) (Entry, error) {
	mount, err := Canonical(dir)
	if err != nil {
		return Entry{}, fmt.Errorf("%s: %w", dir, err)
	}
	var moved *MovedError
	e, err := r.Lookup(ctx, mount)
	switch {
	case err == nil && e.Point == mount:
		return e, nil
	case err == nil:
		moved = &MovedError{Mount: mount, PID: e.PID, Point: e.Point}
	case !errors.Is(err, ErrNotRunning):
		return Entry{}, err
	}
	var lerr error
	if ms, err := mountinfo.Read(); err != nil || mountinfo.At(ms, mount) != nil {
		var list []Entry
		list, lerr = r.List(ctx)
		for _, c := range list {
			if c.MountID != 0 && c.Point == mount {
				return c, nil
			}
		}
	}
	switch {
	case moved != nil:
		return Entry{}, moved
	case lerr != nil:
		return Entry{}, lerr
	}
	return Entry{}, ErrNotRunning
}

// ident is the identity of the daemon's mount.
func (i *Info) ident() mountinfo.ID { return mountinfo.ID{Mnt: i.MountID, Dev: i.Dev} }

// fillPoints sets the Point of each entry from one read of the mount
// table.
func fillPoints(es []Entry) {
	if len(es) == 0 {
		return
	}
	ms, err := mountinfo.Read()
	if err != nil {
		for i := range es {
			es[i].Point = es[i].Mount // unknown: the name is all there is
		}
		return
	}
	for i := range es {
		es[i].Point = pointOf(es[i].Info, ms)
	}
}

// pointOf returns where the mount of info is now according to ms (read
// here when nil): Mount when info does not identify its mount, "" when the
// mount is not in the table.
func pointOf(info Info, ms []mountinfo.Mount) string {
	if info.MountID == 0 {
		return info.Mount
	}
	if ms == nil {
		var err error
		if ms, err = mountinfo.Read(); err != nil {
			return info.Mount
		}
	}
	if m := mountinfo.Find(ms, info.ident()); m != nil {
		return m.Point
	}
	return ""
}
