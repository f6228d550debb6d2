package fsimpl

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// with returns carol (uid 1002, in no group of the files below) holding
// caps, or uid 0 holding caps when root is set.
func with(root bool, caps Caps) *Cred {
	if root {
		return &Cred{Caps: caps}
	}
	return &Cred{UID: carol.UID, GID: carol.GID, Caps: caps}
}

// TestPermissionCapabilities mirrors generic_permission(): which
// capability overrides which permission bit, on files and directories
// owned by alice.
func TestPermissionCapabilities(t *testing.T) {
	rs, do := CapDacReadSearch, CapDacOverride
	tests := []struct {
		name string
		mode uint32
		dir  bool
		c    *Cred
		mask uint32
		want unix.Errno
	}{
		{"root without capabilities reads 0600", 0o600, false, with(true, 0), unix.R_OK, unix.EACCES},
		{"root without capabilities writes 0600", 0o600, false, with(true, 0), unix.W_OK, unix.EACCES},
		{"root without capabilities searches 0700 dir", 0o700, true, with(true, 0), unix.X_OK, unix.EACCES},
		{"root without capabilities, other bits apply", 0o604, false, with(true, 0), unix.R_OK, 0},
		{"READ_SEARCH reads", 0o000, false, with(false, rs), unix.R_OK, 0},
		{"READ_SEARCH does not write", 0o000, false, with(false, rs), unix.W_OK, unix.EACCES},
		{"READ_SEARCH does not read and write", 0o000, false, with(false, rs), unix.R_OK | unix.W_OK, unix.EACCES},
		{"READ_SEARCH does not execute an owner-only program", 0o100, false, with(false, rs), unix.X_OK, unix.EACCES},
		{"READ_SEARCH reads and searches a dir", 0o000, true, with(false, rs), unix.R_OK | unix.X_OK, 0},
		{"READ_SEARCH does not write a dir", 0o000, true, with(false, rs), unix.W_OK | unix.X_OK, unix.EACCES},
		{"DAC_OVERRIDE reads and writes", 0o000, false, with(false, do), unix.R_OK | unix.W_OK, 0},
		{"DAC_OVERRIDE executes with some x bit", 0o100, false, with(false, do), unix.X_OK, 0},
		{"DAC_OVERRIDE does not execute without x", 0o666, false, with(false, do), unix.X_OK, unix.EACCES},
		{"DAC_OVERRIDE writes a dir", 0o000, true, with(false, do), unix.W_OK | unix.X_OK, 0},
		{"other capabilities do not count", 0o000, false, with(true, AllCaps&^(rs|do)), unix.R_OK, unix.EACCES},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newTestFS(t, Options{Backing: BackingShm})
			var ino Ino
			if tc.dir {
				ino = mustMkdir(t, fs, Root, "x", 0o755)
			} else {
				ino = mustFile(t, fs, Root, "x", 0o644, "")
			}
			mustChown(t, fs, "x", 1000, 1000)
			mustChmod(t, fs, "x", tc.mode)
			if got := fs.Access(tc.c, ino, tc.mask); got != tc.want {
				t.Errorf("got %s, want %s", errStr(got), errStr(tc.want))
			}
		})
	}
}

// TestCapabilityOverrides: each rule that a capability overrides, with and
// without it, for uid 0 and for another user. The tree: alice's 0644 file
// f (group 1000) with a trusted.* xattr, alice's setuid 04777 file su,
// bob's 01777 directory st holding alice's file v, root's 0777 directory w.
func TestCapabilityOverrides(t *testing.T) {
	type op func(fs *FS, c *Cred, ino map[string]Ino) unix.Errno
	setattr := func(in SetAttrIn) op {
		return func(fs *FS, c *Cred, ino map[string]Ino) unix.Errno {
			_, e := fs.SetAttr(c, ino["f"], &in, nil)
			return e
		}
	}
	mode := func(path string, want uint32) func(t *testing.T, fs *FS) {
		return func(t *testing.T, fs *FS) {
			if a := mustAttr(t, fs, mustWalk(t, fs, path)); a.Mode&0o7777 != want {
				t.Errorf("%s: mode %o, want %o", path, a.Mode&0o7777, want)
			}
		}
	}
	tests := []struct {
		name  string
		cap   Caps // held by the allowed caller, not by the refused one
		op    op
		want  unix.Errno // for the refused caller
		check func(t *testing.T, fs *FS)
	}{
		{"chmod another's file", CapFowner, setattr(SetAttrIn{Valid: SetMode, Mode: 0o600}), unix.EPERM, nil},
		{"explicit times", CapFowner, setattr(SetAttrIn{Valid: SetMtime, Mtime: unix.Timespec{Sec: 1}}), unix.EPERM, nil},
		{"chown", CapChown, setattr(SetAttrIn{Valid: SetUID, UID: 0}), unix.EPERM, nil},
		{"chgrp", CapChown, setattr(SetAttrIn{Valid: SetGID, GID: 0}), unix.EPERM, nil},
		{"chmod g+s outside the group keeps setgid", CapFowner | CapFsetid,
			setattr(SetAttrIn{Valid: SetMode, Mode: 0o2755}), unix.EPERM, mode("f", 0o2755)},
		{"chmod g+s outside the group drops setgid", CapFowner,
			setattr(SetAttrIn{Valid: SetMode, Mode: 0o2755}), unix.EPERM, mode("f", 0o755)},
		{"mknod a device", CapMknod, func(fs *FS, c *Cred, ino map[string]Ino) unix.Errno {
			_, e := fs.Mknod(c, ino["w"], "dev", unix.S_IFCHR|0o600, unix.Mkdev(1, 3))
			return e
		}, unix.EPERM, nil},
		{"unlink in a sticky dir", CapFowner, func(fs *FS, c *Cred, ino map[string]Ino) unix.Errno {
			return fs.Unlink(c, ino["st"], "v")
		}, unix.EPERM, nil},
		{"get a trusted xattr", CapSysAdmin, func(fs *FS, c *Cred, ino map[string]Ino) unix.Errno {
			_, e := fs.GetXattr(c, ino["f"], "trusted.t")
			return e
		}, unix.ENODATA, nil},
		{"set a trusted xattr", CapSysAdmin, func(fs *FS, c *Cred, ino map[string]Ino) unix.Errno {
			return fs.SetXattr(c, ino["f"], "trusted.u", []byte("u"), 0)
		}, unix.EPERM, nil},
		{"list trusted xattrs", CapSysAdmin, func(fs *FS, c *Cred, ino map[string]Ino) unix.Errno {
			names, e := fs.ListXattr(c, ino["f"])
			if e == 0 && !slices.Contains(names, "trusted.t") {
				return unix.ENODATA
			}
			return e
		}, unix.ENODATA, nil},
		{"truncate keeps setuid", CapFsetid, func(fs *FS, c *Cred, ino map[string]Ino) unix.Errno {
			if _, e := fs.SetAttr(c, ino["su"], &SetAttrIn{Valid: SetSize}, nil); e != 0 {
				return e
			}
			if a, _ := fs.GetAttr(ino["su"]); a.Mode&unix.S_ISUID == 0 {
				return unix.EPERM
			}
			return 0
		}, unix.EPERM, mode("su", 0o4777)},
	}
	setup := func(t *testing.T) (*FS, map[string]Ino) {
		fs := newTestFS(t, Options{Backing: BackingShm})
		ino := map[string]Ino{
			"f":  mustFile(t, fs, Root, "f", 0o644, "x"),
			"su": mustFile(t, fs, Root, "su", 0o777, "x"),
			"st": mustMkdir(t, fs, Root, "st", 0o777),
			"w":  mustMkdir(t, fs, Root, "w", 0o777),
		}
		mustFile(t, fs, Root, "st/v", 0o644, "x")
		for _, p := range []string{"f", "su", "st/v"} {
			mustChown(t, fs, p, 1000, 1000)
		}
		mustChmod(t, fs, "su", 0o4777)
		mustChown(t, fs, "st", 1001, 1001)
		mustChmod(t, fs, "st", 0o1777)
		if e := fs.SetXattr(Root, ino["f"], "trusted.t", []byte("t"), 0); e != 0 {
			t.Fatal(e)
		}
		return fs, ino
	}
	for _, tc := range tests {
		for _, root := range []bool{true, false} {
			who := "user"
			if root {
				who = "root"
			}
			t.Run(tc.name+"/"+who, func(t *testing.T) {
				fs, ino := setup(t)
				if e := tc.op(fs, with(root, AllCaps&^tc.cap), ino); e != tc.want {
					t.Errorf("without the capability: %s, want %s", errStr(e), errStr(tc.want))
				}
				fs, ino = setup(t)
				if e := tc.op(fs, with(root, tc.cap), ino); e != 0 {
					t.Errorf("with the capability: %s, want success", errStr(e))
				}
				if tc.check != nil {
					tc.check(t, fs)
				}
			})
		}
	}
}

// TestUserNamespaceCapabilities mirrors capable_wrt_inode_uidgid(): a
// caller in another user namespace overrides permissions only on files
// whose owner and group are mapped there, and holds no capability of the
// initial namespace (trusted.*).
func TestUserNamespaceCapabilities(t *testing.T) {
	fs := newTestFS(t, Options{Backing: BackingShm})
	mapped := mustFile(t, fs, Root, "mapped", 0o000, "")
	mustChown(t, fs, "mapped", 1000, 1000)
	unmapped := mustFile(t, fs, Root, "unmapped", 0o000, "")
	mustChown(t, fs, "unmapped", 1000, 2000)
	if e := fs.SetXattr(Root, mapped, "trusted.t", []byte("t"), 0); e != 0 {
		t.Fatal(e)
	}
	ns := &UserNS{UIDs: []IDRange{{First: 1000, Count: 1}}, GIDs: []IDRange{{First: 1000, Count: 1}}}
	c := &Cred{UID: 1000, GID: 1000, Caps: AllCaps, NS: ns}
	if e := fs.Access(c, mapped, unix.R_OK|unix.W_OK); e != 0 {
		t.Errorf("mapped owner and group: %s, want success", errStr(e))
	}
	if e := fs.Access(c, unmapped, unix.R_OK); e != unix.EACCES {
		t.Errorf("unmapped group: %s, want EACCES", errStr(e))
	}
	if _, e := fs.GetXattr(c, mapped, "trusted.t"); e != unix.ENODATA {
		t.Errorf("trusted.* from another namespace: %s, want ENODATA", errStr(e))
	}
	if names, _ := fs.ListXattr(c, mapped); slices.Contains(names, "trusted.t") {
		t.Errorf("trusted.* listed to another namespace: %v", names)
	}
}

// TestChownDropNeedsOwner: a chown that must drop setuid or setgid is a
// mode change too (notify_change()), which setattr_prepare() allows only
// the owner or CAP_FOWNER, whatever CAP_CHOWN allows.
func TestChownDropNeedsOwner(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode uint32
		caps Caps
		want unix.Errno
	}{
		{"setgid without CAP_FOWNER", 0o2644, CapChown, unix.EPERM},
		{"setuid without CAP_FOWNER", 0o4644, CapChown, unix.EPERM},
		{"setgid kept with CAP_FSETID", 0o2644, CapChown | CapFsetid, 0},
		{"setgid with CAP_FOWNER", 0o2644, CapChown | CapFowner, 0},
		{"nothing to drop", 0o644, CapChown, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newTestFS(t, Options{Backing: BackingShm})
			ino := mustFile(t, fs, Root, "f", 0o644, "")
			mustChown(t, fs, "f", 1000, 2000)
			mustChmod(t, fs, "f", tc.mode)
			_, e := fs.SetAttr(with(false, tc.caps), ino, &SetAttrIn{Valid: SetGID, GID: 0}, nil)
			if e != tc.want {
				t.Errorf("chgrp: %s, want %s", errStr(e), errStr(tc.want))
			}
		})
	}
}
