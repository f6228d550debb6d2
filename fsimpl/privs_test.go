package fsimpl

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// nativeWriteAs writes through fd the way a supervised process does through
// a descriptor installed in it: natively, with fsuid uid, which drops
// CAP_FSETID (cap_task_fix_setuid) so that file_remove_privs() applies.
func nativeWriteAs(t *testing.T, fd, uid int) {
	t.Helper()
	errc := make(chan error)
	go func() {
		runtime.LockOSThread() // the thread ends with the goroutine
		unix.Setfsuid(uid)
		_, err := unix.Pwrite(fd, []byte("x"), 0)
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestPrivsMirrored: setuid and setgid on a regular file are mirrored onto
// its backing file, so that a native write by a writer without CAP_FSETID
// clears them there (the kernel's rule), and fsimpl reports the loss.
func TestPrivsMirrored(t *testing.T) {
	requirePrivileged(t)
	for _, c := range []struct {
		name       string
		mode, gid  uint32
		writer     int
		wantAfter  uint32
		wantMirror bool
	}{
		{"setuid", 0o4755, 0, 1000, 0o755, true},
		{"setgid group-exec", 0o2755, 0, 1000, 0o755, true},
		// Without group execute, setgid goes only for a writer outside
		// the group (setattr_should_drop_sgid()); 1000 is outside 3000.
		{"setgid no group-exec, outsider", 0o2745, 3000, 1000, 0o745, true},
		{"plain", 0o755, 0, 1000, 0o755, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs := newTestFS(t, Options{Backing: BackingTmpfs})
			ino := mustFile(t, fs, Root, "f", 0o644, "hello")
			if c.gid != 0 {
				mustChown(t, fs, "f", 0, c.gid)
			}
			mustChmod(t, fs, "f", c.mode)
			var st unix.Stat_t
			if e := fs.back.stat(ino, &st); e != 0 {
				t.Fatal(e)
			}
			if got := st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0; got != c.wantMirror {
				t.Errorf("backing mode %o: mirrored %v, want %v", st.Mode, got, c.wantMirror)
			}
			f, e := fs.Open(Root, ino, unix.O_WRONLY)
			if e != 0 {
				t.Fatal(e)
			}
			defer fs.Release(f)
			nativeWriteAs(t, f.Fd, c.writer)
			if a := mustAttr(t, fs, ino); a.Mode&0o7777 != c.wantAfter {
				t.Errorf("after a native write by %d: mode %o, want %o", c.writer, a.Mode&0o7777, c.wantAfter)
			}
			// A later change starts from the reduced mode: chown to the
			// same owner keeps the rest.
			if _, e := fs.SetAttr(Root, ino, &SetAttrIn{Valid: SetMtimeNow}, nil); e != 0 {
				t.Fatal(e)
			}
			if a := mustAttr(t, fs, ino); a.Mode&0o7777 != c.wantAfter {
				t.Errorf("after a setattr: mode %o, want %o", a.Mode&0o7777, c.wantAfter)
			}
			// Bits set again are mirrored again.
			mustChmod(t, fs, "f", c.mode)
			nativeWriteAs(t, f.Fd, 0) // root keeps them (CAP_FSETID)
			if a := mustAttr(t, fs, ino); a.Mode&0o7777 != c.mode {
				t.Errorf("after a write by root: mode %o, want %o", a.Mode&0o7777, c.mode)
			}
		})
	}
}

// TestBackingNosuid: the backing tmpfs is mounted nosuid and nodev, like
// the FUSE mount, since the backing file carries mirrored setuid bits and
// a served descriptor can be executed (fexecve) directly.
func TestBackingNosuid(t *testing.T) {
	requirePrivileged(t)
	fs := newTestFS(t, Options{Backing: BackingTmpfs})
	var st unix.Statfs_t
	if err := unix.Fstatfs(fs.back.dirfd, &st); err != nil {
		t.Fatal(err)
	}
	if st.Flags&unix.ST_NOSUID == 0 || st.Flags&unix.ST_NODEV == 0 {
		t.Errorf("backing mount flags %#x: want nosuid and nodev", st.Flags)
	}
	if !fs.back.mirror {
		t.Error("setuid/setgid not mirrored onto a nosuid private tmpfs as root")
	}
}
