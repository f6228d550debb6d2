package fsimpl

import (
	"math"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSetAttr(t *testing.T) {
	ts := unix.Timespec{Sec: 1234567890, Nsec: 42}
	type want struct {
		e    unix.Errno
		mode uint32 // permission bits after, checked when e == 0 and nonzero
		uid  uint32
		gid  uint32
	}
	tests := []struct {
		name  string
		kind  uint32 // file type of the target; 0 = regular
		mode  uint32 // initial permission bits
		gid   uint32 // initial group (owner is always alice)
		c     *Cred
		in    SetAttrIn
		want  want
		check func(t *testing.T, a Attr)
	}{
		{name: "chmod owner", mode: 0o644, c: alice, in: SetAttrIn{Valid: SetMode, Mode: 0o600}, want: want{mode: 0o600}},
		{name: "chmod other", mode: 0o666, c: carol, in: SetAttrIn{Valid: SetMode, Mode: 0o600}, want: want{e: unix.EPERM}},
		{name: "chmod root", mode: 0o644, c: Root, in: SetAttrIn{Valid: SetMode, Mode: 0o4711}, want: want{mode: 0o4711}},
		{name: "chmod setgid not in group", mode: 0o644, gid: 3000, c: alice, in: SetAttrIn{Valid: SetMode, Mode: 0o2755}, want: want{mode: 0o755}},
		{name: "chmod setgid in group", mode: 0o644, c: alice, in: SetAttrIn{Valid: SetMode, Mode: 0o2755}, want: want{mode: 0o2755}},
		{name: "chmod sticky on file", mode: 0o644, c: alice, in: SetAttrIn{Valid: SetMode, Mode: 0o1644}, want: want{mode: 0o1644}},
		{name: "chown uid by owner", mode: 0o644, c: alice, in: SetAttrIn{Valid: SetUID, UID: 1001}, want: want{e: unix.EPERM}},
		{name: "chown same uid by owner", mode: 0o644, c: alice, in: SetAttrIn{Valid: SetUID, UID: 1000}, want: want{uid: 1000}},
		{name: "chown same uid by other", mode: 0o644, c: carol, in: SetAttrIn{Valid: SetUID, UID: 1000}, want: want{e: unix.EPERM}},
		{name: "noop chown setuid by owner", mode: 0o4755, c: alice, in: SetAttrIn{Valid: SetNoopChown}, want: want{mode: 0o755}},
		{name: "noop chown setuid by other", mode: 0o4755, c: carol, in: SetAttrIn{Valid: SetNoopChown}, want: want{e: unix.EPERM}},
		{name: "noop chown plain by other", mode: 0o755, c: carol, in: SetAttrIn{Valid: SetNoopChown}, want: want{mode: 0o755}},
		{name: "noop chown setgid no group-exec by member", mode: 0o2745, c: bob, in: SetAttrIn{Valid: SetNoopChown}, want: want{mode: 0o2745}},
		{name: "chown uid by root", mode: 0o644, c: Root, in: SetAttrIn{Valid: SetUID, UID: 7}, want: want{uid: 7}},
		{name: "chgrp to own group", mode: 0o644, gid: 3000, c: alice, in: SetAttrIn{Valid: SetGID, GID: 1000}, want: want{gid: 1000}},
		{name: "chgrp to foreign group", mode: 0o644, c: alice, in: SetAttrIn{Valid: SetGID, GID: 2000}, want: want{e: unix.EPERM}},
		{name: "chgrp by member non-owner", mode: 0o644, c: bob, in: SetAttrIn{Valid: SetGID, GID: 1000}, want: want{e: unix.EPERM}},
		{name: "chown clears suid and sgid+x", mode: 0o6755, c: Root, in: SetAttrIn{Valid: SetUID | SetGID, UID: 1000, GID: 1000}, want: want{mode: 0o755}},
		{name: "chown keeps sgid without group x", mode: 0o6745, c: Root, in: SetAttrIn{Valid: SetUID, UID: 1000}, want: want{mode: 0o2745}},
		{name: "chown of dir keeps bits", kind: unix.S_IFDIR, mode: 0o6755, c: Root, in: SetAttrIn{Valid: SetUID, UID: 1000}, want: want{mode: 0o6755}},
		{name: "truncate owner", mode: 0o644, c: alice, in: SetAttrIn{Valid: SetSize, Size: 10}, check: func(t *testing.T, a Attr) {
			if a.Size != 10 {
				t.Errorf("size %d", a.Size)
			}
		}},
		{name: "truncate without write", mode: 0o644, c: carol, in: SetAttrIn{Valid: SetSize, Size: 0}, want: want{e: unix.EACCES}},
		{name: "truncate root without write bits", mode: 0o444, c: Root, in: SetAttrIn{Valid: SetSize}},
		{name: "truncate dir", kind: unix.S_IFDIR, mode: 0o777, c: alice, in: SetAttrIn{Valid: SetSize}, want: want{e: unix.EISDIR}},
		{name: "truncate fifo", kind: unix.S_IFIFO, mode: 0o666, c: alice, in: SetAttrIn{Valid: SetSize}, want: want{e: unix.EINVAL}},
		{name: "truncate negative", mode: 0o644, c: alice, in: SetAttrIn{Valid: SetSize, Size: math.MaxUint64}, want: want{e: unix.EINVAL}},
		{name: "truncate 1 PiB is sparse", mode: 0o644, c: alice, in: SetAttrIn{Valid: SetSize, Size: 1 << 50}, check: func(t *testing.T, a Attr) {
			if a.Size != 1<<50 || a.Blocks > 8 {
				t.Errorf("size %d blocks %d", a.Size, a.Blocks)
			}
		}},
		{name: "truncate by user kills suid", mode: 0o6755, c: alice, in: SetAttrIn{Valid: SetSize}, want: want{mode: 0o755}},
		{name: "truncate by user kills sgid not in group", mode: 0o2664, gid: 3000, c: &Cred{UID: 1000, GID: 1000}, in: SetAttrIn{Valid: SetSize}, want: want{mode: 0o664}},
		{name: "truncate by root keeps suid", mode: 0o6755, c: Root, in: SetAttrIn{Valid: SetSize}, want: want{mode: 0o6755}},
		{name: "kill suidgid", mode: 0o6755, c: alice, in: SetAttrIn{Valid: SetKillSUIDGID}, want: want{mode: 0o755}},
		{name: "kill suidgid keeps sgid without x for a member", mode: 0o6745, c: alice, in: SetAttrIn{Valid: SetKillSUIDGID}, want: want{mode: 0o2745}},
		{name: "kill suidgid drops sgid without x for a non-member", mode: 0o6745, c: carol, in: SetAttrIn{Valid: SetKillSUIDGID}, want: want{mode: 0o745}},
		{name: "utimes explicit owner", mode: 0o644, c: alice, in: SetAttrIn{Valid: SetAtime | SetMtime, Atime: ts, Mtime: ts}, check: func(t *testing.T, a Attr) {
			if a.Atime != ts || a.Mtime != ts {
				t.Errorf("times %v %v", a.Atime, a.Mtime)
			}
		}},
		{name: "utimes explicit fifo", kind: unix.S_IFIFO, mode: 0o644, c: alice, in: SetAttrIn{Valid: SetMtime, Mtime: ts}, check: func(t *testing.T, a Attr) {
			if a.Mtime != ts || a.Atime == ts {
				t.Errorf("times %v %v", a.Atime, a.Mtime)
			}
		}},
		{name: "utimes explicit writer non-owner", mode: 0o666, c: carol, in: SetAttrIn{Valid: SetAtime | SetMtime, Atime: ts, Mtime: ts}, want: want{e: unix.EPERM}},
		{name: "utimes now writer non-owner", mode: 0o666, c: carol, in: SetAttrIn{Valid: SetAtimeNow | SetMtimeNow}},
		{name: "utimes now non-writer", mode: 0o644, c: carol, in: SetAttrIn{Valid: SetAtimeNow | SetMtimeNow}, want: want{e: unix.EACCES}},
		{name: "utimes one now writer non-owner", mode: 0o666, c: carol, in: SetAttrIn{Valid: SetMtimeNow}, want: want{e: unix.EPERM}},
		{name: "utimes bad nsec", mode: 0o644, c: alice, in: SetAttrIn{Valid: SetMtime, Mtime: unix.Timespec{Nsec: 2e9}}, want: want{e: unix.EINVAL}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newTestFS(t, Options{Backing: BackingShm})
			var ino Ino
			switch tc.kind {
			case unix.S_IFDIR:
				ino = mustMkdir(t, fs, Root, "x", 0o755)
			case 0:
				ino = mustFile(t, fs, Root, "x", 0o644, "hello")
			default:
				a, e := fs.Mknod(Root, RootIno, "x", tc.kind|0o644, 0)
				if e != 0 {
					t.Fatal(e)
				}
				fs.Forget(a.Ino, 1)
				ino = a.Ino
			}
			gid := tc.gid
			if gid == 0 {
				gid = 1000
			}
			mustChown(t, fs, "x", 1000, gid)
			mustChmod(t, fs, "x", tc.mode)
			before := mustAttr(t, fs, ino)
			a, e := fs.SetAttr(tc.c, ino, &tc.in, nil)
			if e != tc.want.e {
				t.Fatalf("got %s, want %s", errStr(e), errStr(tc.want.e))
			}
			if e != 0 {
				if after := mustAttr(t, fs, ino); after != before {
					t.Errorf("failed setattr changed the inode: %+v -> %+v", before, after)
				}
				return
			}
			if tc.want.mode != 0 && a.Mode&0o7777 != tc.want.mode {
				t.Errorf("mode %o, want %o", a.Mode&0o7777, tc.want.mode)
			}
			if tc.want.uid != 0 && a.UID != tc.want.uid {
				t.Errorf("uid %d, want %d", a.UID, tc.want.uid)
			}
			if tc.want.gid != 0 && a.GID != tc.want.gid {
				t.Errorf("gid %d, want %d", a.GID, tc.want.gid)
			}
			if tsAfter(before.Ctime, a.Ctime) {
				t.Errorf("ctime went back: %v -> %v", before.Ctime, a.Ctime)
			}
			if a != mustAttr(t, fs, ino) {
				t.Errorf("returned attr differs from GetAttr")
			}
			if tc.check != nil {
				tc.check(t, a)
			}
		})
	}
}

func TestFtruncateThroughHandle(t *testing.T) {
	tests := []struct {
		name  string
		flags int
		want  unix.Errno
	}{
		{"read-only handle", unix.O_RDONLY, unix.EINVAL},
		{"write-only handle", unix.O_WRONLY, 0},
		{"read-write handle", unix.O_RDWR, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newTestFS(t, Options{Backing: BackingShm})
			ino := mustFile(t, fs, Root, "x", 0o644, "hello")
			mustChown(t, fs, "x", 1000, 1000)
			f, e := fs.Open(alice, ino, tc.flags)
			if e != 0 {
				t.Fatal(e)
			}
			defer fs.Release(f)
			// Permission bits no longer allow writing: the handle decides.
			mustChmod(t, fs, "x", 0o444)
			a, e := fs.SetAttr(alice, ino, &SetAttrIn{Valid: SetSize, Size: 2}, f)
			if e != tc.want {
				t.Fatalf("got %s, want %s", errStr(e), errStr(tc.want))
			}
			if e == 0 && a.Size != 2 {
				t.Errorf("size %d", a.Size)
			}
		})
	}
}
