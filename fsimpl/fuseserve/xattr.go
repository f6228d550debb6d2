package fuseserve

import (
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/event"
	"github.com/btfuse/btfuse/fsimpl"
)

// Extended attributes. fsimpl returns whole values; the size probing of
// getxattr(2)/listxattr(2) is done here: a request of size 0 asks for the
// size needed (go-fuse then replies with a GetXAttrOut), a buffer too small
// is ERANGE.

func (r *rawFS) GetXAttr(cancel <-chan struct{}, h *fuse.InHeader, name string, dest []byte) (uint32, fuse.Status) {
	q := r.req(event.OpGetXattr, h, "")
	if e := r.fault(&q).failed(); e != 0 {
		return 0, r.done(q, e)
	}
	v, e := r.fs.GetXattr(credOf(h), fsimpl.Ino(h.NodeId), name)
	if e != 0 {
		return 0, r.done(q, e)
	}
	n, e := sized(v, dest)
	return n, r.done(q, e)
}

func (r *rawFS) ListXAttr(cancel <-chan struct{}, h *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	q := r.req(event.OpListXattr, h, "")
	if e := r.fault(&q).failed(); e != 0 {
		return 0, r.done(q, e)
	}
	// Listing trusted.* names is the server's decision (see cred.go).
	names, e := r.fs.ListXattr(fullCredOf(h), fsimpl.Ino(h.NodeId))
	if e != 0 {
		return 0, r.done(q, e)
	}
	var list []byte
	for _, s := range names {
		list = append(list, s...)
		list = append(list, 0)
	}
	n, e := sized(list, dest)
	return n, r.done(q, e)
}

// sized copies v into dest when it fits. With an empty dest it only reports
// the size; a dest too small is ERANGE.
func sized(v, dest []byte) (uint32, unix.Errno) {
	if len(dest) == 0 {
		return uint32(len(v)), 0
	}
	if len(v) > len(dest) {
		return uint32(len(v)), unix.ERANGE
	}
	return uint32(copy(dest, v)), 0
}

func (r *rawFS) SetXAttr(cancel <-chan struct{}, in *fuse.SetXAttrIn, name string, data []byte) fuse.Status {
	q := r.req(event.OpSetXattr, &in.InHeader, "")
	if e := r.fault(&q).failed(); e != 0 {
		return r.done(q, e)
	}
	// data lives in the request buffer, which go-fuse reuses.
	v := append([]byte(nil), data...)
	e := r.fs.SetXattr(credOf(&in.InHeader), fsimpl.Ino(in.NodeId), name, v, int(in.Flags))
	return r.done(q, e)
}

func (r *rawFS) RemoveXAttr(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	q := r.req(event.OpRemoveXattr, h, "")
	if e := r.fault(&q).failed(); e != 0 {
		return r.done(q, e)
	}
	return r.done(q, r.fs.RemoveXattr(credOf(h), fsimpl.Ino(h.NodeId), name))
}
