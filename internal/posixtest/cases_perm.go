package posixtest

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Permission cases: bodies run as Alice, Bob or Carol (see cred.go) on
// scenes root built.
var permCases = []Case{
	{"perm_file_classes", casePermFileClasses},
	{"perm_dir_classes", casePermDirClasses},
	{"perm_owner_ops", casePermOwnerOps},
	{"perm_sticky", casePermSticky},
	{"perm_setgid_dir", casePermSetgidDir},
	{"perm_chmod_setgid", casePermChmodSetgid},
	{"perm_utimes", casePermUtimes},
	{"perm_write_kills_suid", casePermWriteKillsSuid},
	{"perm_rename", casePermRename},
	{"perm_xattr", casePermXattr},
}

var users = []struct {
	name string
	cred Cred
}{{"alice", Alice}, {"bob", Bob}, {"carol", Carol}}

// casePermFileClasses opens a file owned by alice:staff under each mode as
// the owner, a member of the group (carol; alice is also a member through a
// supplementary group) and another user (bob). The first matching class
// decides, even when a later one would grant more.
func casePermFileClasses(s *S) {
	s.WriteFile("f", "data", 0o644)
	s.Must("chown", s.Chown("f", int(Alice.UID), Staff))
	for _, mode := range []uint32{0o640, 0o604, 0o066, 0o460, 0o000, 0o777, 0o111} {
		s.Must("chmod", s.Chmod("f", mode))
		for _, u := range users {
			s.As(u.cred, func() {
				for _, flags := range []int{unix.O_RDONLY, unix.O_WRONLY, unix.O_RDWR} {
					if fd, e := s.Open("f", flags, 0); e == 0 {
						s.Close(fd)
					}
				}
				for _, m := range []uint32{unix.R_OK, unix.W_OK, unix.X_OK} {
					s.Access("f", m)
				}
				s.Truncate("f", 4)
			})
		}
	}
	fd, e := s.Open("f", unix.O_RDONLY, 0)
	s.Must("open", e)
	s.Close(fd)
	// The pinned cases.
	s.Must("chmod", s.Chmod("f", 0o604))
	s.As(Carol, func() {
		_, e := s.Open("f", unix.O_RDONLY, 0)
		s.Want("group member denied by group bits despite other bits", e, unix.EACCES)
	})
	s.As(Bob, func() {
		fd, e := s.Open("f", unix.O_RDONLY, 0)
		s.Want("other reads", e, 0)
		if e == 0 {
			s.Close(fd)
		}
	})
}

func casePermDirClasses(s *S) {
	s.Must("mkdir", s.Mkdir("d", 0o755))
	s.WriteFile("d/x", "x", 0o644)
	s.Must("chown", s.Chown("d", int(Alice.UID), Staff))
	for _, mode := range []uint32{0o750, 0o730, 0o740, 0o710, 0o705, 0o700} {
		s.Must("chmod", s.Chmod("d", mode))
		for _, u := range users {
			s.As(u.cred, func() {
				s.Readdir("d")
				s.Stat("d/x")
				p := "d/" + u.name
				if fd, e := s.Open(p, unix.O_CREAT|unix.O_WRONLY, 0o644); e == 0 {
					s.Close(fd)
					s.Unlink(p)
				}
				s.Mkdir(p+".d", 0o755)
				s.Rmdir(p + ".d")
			})
		}
	}
	s.Chmod("d", 0o740)
	s.As(Carol, func() {
		_, e := s.Stat("d/x")
		s.Want("lookup without search permission", e, unix.EACCES)
	})
}

func casePermOwnerOps(s *S) {
	s.WriteFile("f", "x", 0o644)
	s.Must("chown", s.Chown("f", int(Alice.UID), int(Alice.GID)))
	s.As(Bob, func() {
		s.Want("chmod by non-owner", s.Chmod("f", 0o777), unix.EPERM)
		s.Want("chown by non-owner", s.Chown("f", int(Bob.UID), -1), unix.EPERM)
		s.Want("chgrp by non-owner", s.Chown("f", -1, int(Bob.GID)), unix.EPERM)
	})
	s.As(Alice, func() {
		s.Want("chmod by owner", s.Chmod("f", 0o600), 0)
		s.Want("give away", s.Chown("f", int(Bob.UID), -1), unix.EPERM)
		s.Want("chown to self", s.Chown("f", int(Alice.UID), -1), 0)
		s.Want("chgrp to a supplementary group", s.Chown("f", -1, Staff), 0)
		s.Want("chgrp to a foreign group", s.Chown("f", -1, int(Bob.GID)), unix.EPERM)
		s.Want("chown -1 -1", s.Chown("f", -1, -1), 0)
		s.Stat("f")
		s.Symlink("f", "alice-link") // no write permission on the case dir
	})
	s.Must("chmod", s.Chmod("", 0o777))
	s.As(Alice, func() {
		s.Symlink("f", "alice-link")
		s.Lstat("alice-link")
		s.Lchown("alice-link", -1, Staff)
		s.Lstat("alice-link")
	})
	s.As(Carol, func() {
		s.Lchown("alice-link", -1, Staff)
		s.Link("f", "carol-hardlink") // link to a file one may not read
		s.Stat("carol-hardlink")
	})
}

func casePermSticky(s *S) {
	for _, mode := range []uint32{0o1777, 0o777} {
		d := fmt.Sprintf("d%04o", mode)
		s.Must("mkdir", s.Mkdir(d, mode))
		s.Must("chmod", s.Chmod(d, mode))
		s.As(Alice, func() {
			s.WriteFile(d+"/a", "alice", 0o666)
			s.Must("mkdir", s.Mkdir(d+"/adir", 0o777))
		})
		s.As(Bob, func() {
			s.WriteFile(d+"/b", "bob", 0o666)
			s.Unlink(d + "/a")
			s.Rename(d+"/a", d+"/stolen", 0)
			s.Rename(d+"/b", d+"/a", 0)
			s.Rename(d+"/adir", d+"/bdir", 0)
			s.Rmdir(d + "/adir")
			if fd, e := s.Open(d+"/a", unix.O_WRONLY|unix.O_TRUNC, 0); e == 0 { // writing is not deleting
				s.Write(fd, []byte("overwritten"))
				s.Close(fd)
			}
		})
		s.Readdir(d)
		// The owner of the directory may delete anything in it.
		s.Must("chown", s.Chown(d, int(Carol.UID), -1))
		s.As(Carol, func() {
			s.Unlink(d + "/b")
		})
		s.As(Alice, func() {
			s.Rename(d+"/a", d+"/a2", 0)
		})
		s.Unlink(d + "/a2")
		s.Readdir(d)
	}
}

func casePermSetgidDir(s *S) {
	s.Must("mkdir", s.Mkdir("sg", 0o777))
	s.Must("chown", s.Chown("sg", 0, Staff))
	s.Must("chmod", s.Chmod("sg", 0o2777))
	s.Must("mkdir", s.Mkdir("plain", 0o777))
	s.Must("chmod", s.Chmod("plain", 0o777))
	for _, u := range users {
		s.As(u.cred, func() {
			for _, d := range []string{"sg", "plain"} {
				p := d + "/" + u.name
				if fd, e := s.Open(p, unix.O_CREAT|unix.O_WRONLY, 0o2755); e == 0 {
					s.Close(fd)
				}
				s.Stat(p)
				s.Mkdir(p+".d", 0o755)
				s.Stat(p + ".d")
				s.Mknod(p+".fifo", unix.S_IFIFO|0o2770, 0)
				s.Stat(p + ".fifo")
				s.Symlink("x", p+".lnk")
				s.Lstat(p + ".lnk")
			}
		})
	}
	// Inheritance goes on below a new subdirectory.
	s.As(Bob, func() {
		s.Mkdir("sg/bob.d/deeper", 0o700)
		s.Stat("sg/bob.d/deeper")
	})
	// Root gets the group too, and keeps a requested setgid bit.
	fd, e := s.Open("sg/root", unix.O_CREAT|unix.O_WRONLY, 0o2755)
	s.Must("create", e)
	s.Close(fd)
	s.Stat("sg/root")
}

func casePermChmodSetgid(s *S) {
	for _, c := range []struct {
		name     string
		uid, gid int
		as       Cred
	}{
		{"nonmember", int(Alice.UID), int(Bob.GID), Alice},
		{"supplementary", int(Alice.UID), Staff, Alice},
		{"primary", int(Carol.UID), Staff, Carol},
	} {
		f, d := "f-"+c.name, "d-"+c.name
		s.WriteFile(f, "x", 0o644)
		s.Must("mkdir", s.Mkdir(d, 0o755))
		for _, p := range []string{f, d} {
			s.Must("chown", s.Chown(p, c.uid, c.gid))
		}
		s.As(c.as, func() {
			for _, m := range []uint32{0o2755, 0o6755, 0o2711, 0o1755, 0o4755} {
				for _, p := range []string{f, d} {
					s.Chmod(p, m)
					s.Stat(p)
				}
			}
		})
	}
	s.Chmod("f-nonmember", 0o2755) // root may
	s.Stat("f-nonmember")
}

func casePermUtimes(s *S) {
	now, omit := unix.Timespec{Nsec: unix.UTIME_NOW}, unix.Timespec{Nsec: unix.UTIME_OMIT}
	t1 := unix.Timespec{Sec: 1234567890}
	s.WriteFile("f", "x", 0o666)
	s.Must("chown", s.Chown("f", int(Alice.UID), int(Alice.GID)))
	for _, mode := range []uint32{0o666, 0o644, 0o444} {
		s.Must("chmod", s.Chmod("f", mode))
		for _, u := range []Cred{Alice, Bob} {
			for _, ts := range [][]unix.Timespec{nil, {now, now}, {now, omit}, {omit, now}, {omit, omit}, {t1, t1}, {t1, omit}} {
				t := s.Age("f")
				s.As(u, func() { s.Utimens("f", ts, 0) })
				s.TimesSince("f", t)
			}
		}
	}
}

func casePermWriteKillsSuid(s *S) {
	for _, mode := range []uint32{0o6777, 0o2767, 0o4766, 0o2777} {
		for _, op := range []string{"write", "truncate", "write-as-root"} {
			f := fmt.Sprintf("f%04o-%s", mode, op)
			s.WriteFile(f, "data", 0o644)
			s.Must("chmod", s.Chmod(f, mode))
			body := func() {
				switch op {
				case "truncate":
					s.Truncate(f, 2)
				default:
					if fd, e := s.Open(f, unix.O_WRONLY, 0); e == 0 {
						s.Pwrite(fd, []byte("x"), 1)
						s.Close(fd)
					}
				}
			}
			if op == "write-as-root" {
				body()
			} else {
				s.As(Alice, body)
			}
			s.Stat(f)
		}
	}
}

func casePermRename(s *S) {
	for _, d := range []string{"p", "q"} {
		s.Must("mkdir", s.Mkdir(d, 0o777))
		s.Must("chmod", s.Chmod(d, 0o777))
	}
	s.Must("mkdir", s.Mkdir("ro", 0o755))
	s.WriteFile("ro/f", "x", 0o666)
	s.As(Alice, func() {
		s.Must("mkdir", s.Mkdir("p/adir", 0o755))
		s.WriteFile("p/afile", "a", 0o644)
	})
	s.As(Bob, func() {
		s.Rename("p/adir", "q/adir", 0) // needs write on adir for its ".."
		s.Rename("p/adir", "p/adir2", 0)
		s.Rename("p/afile", "q/afile", 0)
		s.Rename("ro/f", "p/f", 0)
		s.Rename("p/adir2", "ro/adir", 0)
		s.Rename("q/afile", "p/adir2", unix.RENAME_EXCHANGE)
	})
	s.Readdir("p")
	s.Readdir("q")
}

func casePermXattr(s *S) {
	s.WriteFile("f", "x", 0o644)
	s.Must("chown", s.Chown("f", int(Alice.UID), int(Alice.GID)))
	s.Setxattr("f", "user.u", "user value", 0)
	s.Setxattr("f", "trusted.t", "trusted value", 0)
	s.Must("mkdir", s.Mkdir("sticky", 0o1777))
	s.Must("chmod", s.Chmod("sticky", 0o1777))
	for _, mode := range []uint32{0o644, 0o600, 0o666} {
		s.Must("chmod", s.Chmod("f", mode))
		for _, u := range []Cred{Alice, Bob} {
			s.As(u, func() {
				s.Setxattr("f", "user.new", "v", 0)
				s.Getxattr("f", "user.u", 100)
				s.Listxattr("f", 0)
				s.Listxattr("f", 200)
				s.Removexattr("f", "user.new")
				s.Setxattr("f", "trusted.t2", "v", 0)
				s.Getxattr("f", "trusted.t", 100)
				s.Removexattr("f", "trusted.t")
				s.Setxattr("sticky", "user.s", "v", 0)
				s.Getxattr("sticky", "user.s", 10)
			})
		}
	}
	s.Listxattr("f", 200)
}
