package posixtest

import (
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Cases of mkdir, rmdir, unlink, directory link counts and readdir.
var dirCases = []Case{
	{"mkdir", caseMkdir},
	{"rmdir", caseRmdir},
	{"unlink", caseUnlink},
	{"dir_nlink", caseDirNlink},
	{"readdir_basic", caseReaddirBasic},
	{"readdir_many", caseReaddirMany},
	{"readdir_stable", caseReaddirStable},
	{"rmdir_open_dir", caseRmdirOpenDir},
}

func caseMkdir(s *S) {
	t := s.Age("")
	s.Want("mkdir d", s.Mkdir("d", 0o755), 0)
	s.TimesSince("", t)
	s.Stat("d")
	s.Stat("")
	s.WriteFile("f", "", 0o644)
	s.Symlink("d", "ld")
	s.Symlink("nowhere", "dangling")
	for _, c := range []struct {
		path string
		want unix.Errno
	}{
		{"d", unix.EEXIST},
		{"f", unix.EEXIST},
		{"ld", unix.EEXIST},
		{"dangling", unix.EEXIST},
		{".", unix.EEXIST},
		{"..", unix.EEXIST},
		{"missing/x", unix.ENOENT},
		{"f/x", unix.ENOTDIR},
		{"ld/sub", 0},
		{"d2/", 0},
		{"d/../d3", 0},
	} {
		s.Want("mkdir "+c.path, s.Mkdir(c.path, 0o755), c.want)
	}
	for _, m := range []uint32{0, 0o700, 0o1777, 0o2755, 0o4755, 0o7777} {
		p := fmt.Sprintf("m%04o", m)
		s.Mkdir(p, m)
		s.Stat(p)
	}
	s.Readdir("")
	s.Readdir("d")
}

func caseRmdir(s *S) {
	s.Must("mkdir", s.Mkdir("d", 0o755))
	s.Must("mkdir", s.Mkdir("d/sub", 0o755))
	s.WriteFile("f", "", 0o644)
	s.Symlink("d", "ld")
	for _, c := range []struct {
		path string
		want unix.Errno
	}{
		{"d", unix.ENOTEMPTY},
		{"f", unix.ENOTDIR},
		{"ld", unix.ENOTDIR},
		{"missing", unix.ENOENT},
		{".", unix.EINVAL},
		{"d/.", unix.EINVAL},
		{"d/..", unix.ENOTEMPTY},
		{"f/x", unix.ENOTDIR},
	} {
		s.Want("rmdir "+c.path, s.Rmdir(c.path), c.want)
	}
	t := s.Age("d")
	s.Want("rmdir d/sub", s.Rmdir("d/sub"), 0)
	s.TimesSince("d", t)
	s.Stat("d")
	s.Want("rmdir d/sub again", s.Rmdir("d/sub"), unix.ENOENT)
	s.Want("rmdir d/", s.Rmdir("d/"), 0)
	s.Stat("d")
	s.Stat("")
	s.Readdir("")
}

func caseUnlink(s *S) {
	s.Must("mkdir", s.Mkdir("d", 0o755))
	s.WriteFile("f", "target", 0o644)
	s.Symlink("f", "l")
	s.Symlink("d", "ld")
	for _, c := range []struct {
		path string
		want unix.Errno
	}{
		{"d", unix.EISDIR},
		{"d/", unix.EISDIR},
		{"f/", unix.ENOTDIR},
		{"missing", unix.ENOENT},
		{"missing/x", unix.ENOENT},
		{"f/x", unix.ENOTDIR},
		{".", unix.EISDIR},
	} {
		s.Want("unlink "+c.path, s.Unlink(c.path), c.want)
	}
	// Unlinking a symlink removes the link, not its target.
	s.Want("unlink l", s.Unlink("l"), 0)
	s.Want("unlink ld", s.Unlink("ld"), 0)
	s.Stat("f")
	s.Stat("d")
	t := s.Age("")
	s.Want("unlink f", s.Unlink("f"), 0)
	s.TimesSince("", t)
	s.Want("unlink f again", s.Unlink("f"), unix.ENOENT)
	s.Readdir("")
}

func caseDirNlink(s *S) {
	s.Must("mkdir", s.Mkdir("d", 0o755))
	s.Stat("d")
	s.Stat("")
	for _, n := range []string{"a", "b", "c"} {
		s.Mkdir("d/"+n, 0o755)
		s.Stat("d")
	}
	s.WriteFile("d/file", "", 0o644) // files and links do not count
	s.Symlink("a", "d/link")
	s.Stat("d")
	s.Rmdir("d/a")
	s.Stat("d")
	s.Must("mkdir", s.Mkdir("e", 0o755))
	s.Rename("d/b", "e/b", 0) // moves a ".." link between parents
	s.Stat("d")
	s.Stat("e")
	s.Mkdir("e/x", 0o755)
	s.Rename("d/c", "e/x", 0) // replaces an empty directory
	s.Stat("d")
	s.Stat("e")
	s.Stat("e/x")
	s.Rename("e/b", "e/b2", 0) // within one parent
	s.Stat("e")
	s.Stat("e/b2/..")
	s.Stat("")
}

func caseReaddirBasic(s *S) {
	s.Must("mkdir", s.Mkdir("d", 0o755))
	s.Readdir("d")
	s.WriteFile("d/file", "", 0o644)
	s.Mkdir("d/dir", 0o755)
	s.Symlink("file", "d/link")
	s.Mknod("d/fifo", unix.S_IFIFO|0o644, 0)
	s.Mknod("d/sock", unix.S_IFSOCK|0o644, 0)
	s.Readdir("d")
	s.Lstat("d/fifo")
	s.Lstat("d/sock")
	s.WriteFile("notdir", "", 0o644)
	s.Readdir("notdir")
	s.Readdir("missing")
	// getdents64 on a file descriptor that is not a directory
	fd, e := s.Open("notdir", unix.O_RDONLY, 0)
	s.Must("open", e)
	_, e = Getdents(fd, 4096)
	s.Logf("getdents on a file = %s", ErrnoString(e))
	s.Want("getdents on a file", e, unix.ENOTDIR)
	s.Close(fd)
}

func caseReaddirMany(s *S) {
	s.Must("mkdir", s.Mkdir("d", 0o755))
	const n = 300
	for i := 0; i < n; i++ {
		mustCreate(s, fmt.Sprintf("d/entry-%03d-%s", i, strings.Repeat("x", i%50)))
	}
	fd, e := s.Open("d", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	s.Must("open", e)
	for _, bufSize := range []int{4096, 300, 80} {
		s.Lseek(fd, 0, unix.SEEK_SET)
		ents, e := ReadDirents(fd, bufSize)
		s.Must("getdents", e)
		counts := map[string]int{}
		for _, d := range ents {
			counts[d.Name]++
		}
		dup := 0
		for _, c := range counts {
			if c > 1 {
				dup++
			}
		}
		s.Logf("buf %d: %d entries, %d distinct, %d repeated", bufSize, len(ents), len(counts), dup)
		s.Check(len(ents) == n+2 && len(counts) == n+2, "buf %d: want %d entries once each", bufSize, n+2)
	}
	s.Close(fd)
}

// mustCreate makes an empty file without recording it: the scene setter of
// cases that make many files.
func mustCreate(s *S, p string) {
	fd, err := sys.Open(s.Path(p), unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
	if err != nil {
		s.Fatalf("create %s: %v", p, err)
	}
	sys.Close(fd)
}

// caseReaddirStable reads a directory a few entries at a time while names
// are added and removed between the calls. POSIX leaves the changed names
// unspecified, but every entry present throughout must come back exactly
// once, and a cookie from telldir (d_off) must resume after its entry even
// when that entry has been removed meanwhile.
func caseReaddirStable(s *S) {
	s.Must("mkdir", s.Mkdir("d", 0o755))
	const stable, transient = 60, 40
	for i := 0; i < stable; i++ {
		mustCreate(s, fmt.Sprintf("d/s%02d", i))
	}
	for i := 0; i < transient; i++ {
		mustCreate(s, fmt.Sprintf("d/t%02d", i))
	}
	isStable := func(name string) bool { return len(name) == 3 && name[0] == 's' }
	fd, e := s.Open("d", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	s.Must("open", e)
	// One change per stable entry returned, so the schedule does not depend
	// on how many entries a getdents call returns.
	var order []Dirent
	changes := 0
	for {
		ents, e := Getdents(fd, 128)
		s.Must("getdents", e)
		if len(ents) == 0 {
			break
		}
		order = append(order, ents...)
		for _, d := range ents {
			if isStable(d.Name) && changes < transient {
				s.Must("unlink", Errno(sys.Unlink(s.Path(fmt.Sprintf("d/t%02d", changes)))))
				mustCreate(s, fmt.Sprintf("d/n%02d", changes))
				changes++
			}
		}
	}
	once := seenOnce(order, isStable, stable)
	s.Logf("first pass: stable entries seen once: %s", once)
	s.Check(once == fmt.Sprintf("%d/%d", stable, stable), "entries present throughout were lost or repeated")

	// Seek back to the cookie of an entry one third in, remove that entry
	// and its successor, and read on: every stable entry that followed it
	// must come again, once.
	k, nth := 0, 0
	for k < len(order)-1 && nth < stable/3 {
		if isStable(order[k].Name) {
			nth++
		}
		k++
	}
	var after []Dirent
	for _, d := range order[k+1:] {
		if isStable(d.Name) {
			after = append(after, d)
		}
	}
	gone := map[string]bool{order[k].Name: true}
	if len(after) > 0 {
		gone[after[0].Name] = true
	}
	for name := range gone {
		s.Must("unlink", Errno(sys.Unlink(s.Path("d/"+name))))
	}
	_, err := sys.Seek(fd, order[k].Off, unix.SEEK_SET)
	s.Must("seekdir", Errno(err))
	rest, e := ReadDirents(fd, 128)
	s.Must("getdents", e)
	counts := map[string]int{}
	for _, d := range rest {
		counts[d.Name]++
	}
	missing, repeated := 0, 0
	for _, d := range after {
		switch c := counts[d.Name]; {
		case gone[d.Name]:
		case c == 0:
			missing++
		case c > 1:
			repeated++
		}
	}
	s.Logf("after seekdir: stable entries past the cookie: missing %d, repeated %d", missing, repeated)
	s.Check(missing == 0 && repeated == 0, "seekdir to a removed entry's cookie lost or repeated entries")

	// rewinddir sees the directory as it is now, each name once.
	_, err = sys.Seek(fd, 0, unix.SEEK_SET)
	s.Must("rewinddir", Errno(err))
	all, e := ReadDirents(fd, 128)
	s.Must("getdents", e)
	// Which two names went depends on the (unspecified) order, so the
	// expected set is computed, not printed.
	want := map[string]bool{".": true, "..": true}
	for i := 0; i < stable; i++ {
		want[fmt.Sprintf("s%02d", i)] = true
	}
	for i := 0; i < transient; i++ {
		if i < changes {
			want[fmt.Sprintf("n%02d", i)] = true
		} else {
			want[fmt.Sprintf("t%02d", i)] = true
		}
	}
	for name := range gone {
		delete(want, name)
	}
	counts = map[string]int{}
	for _, d := range all {
		counts[d.Name]++
	}
	var wrong []string
	for name := range want {
		if counts[name] != 1 {
			wrong = append(wrong, fmt.Sprintf("%s seen %d times", name, counts[name]))
		}
	}
	for name, c := range counts {
		if !want[name] {
			wrong = append(wrong, fmt.Sprintf("unexpected %q seen %d times", name, c))
		}
	}
	sort.Strings(wrong)
	s.Logf("after rewinddir: %d entries; wrong: %v", len(all), wrong)
	s.Check(len(wrong) == 0, "rewinddir listing is wrong")
	s.Close(fd)
}

// seenOnce reports how many of the want entries that match keep appear in
// ents exactly once, as "n/want".
func seenOnce(ents []Dirent, keep func(string) bool, want int) string {
	counts := map[string]int{}
	for _, d := range ents {
		if keep(d.Name) {
			counts[d.Name]++
		}
	}
	once := 0
	for _, c := range counts {
		if c == 1 {
			once++
		}
	}
	return fmt.Sprintf("%d/%d", once, want)
}

func caseRmdirOpenDir(s *S) {
	s.Must("mkdir", s.Mkdir("d", 0o755))
	fd, e := s.Open("d", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	s.Must("open", e)
	s.Rmdir("d")
	s.Fstat(fd)
	ents, e := ReadDirents(fd, 4096)
	s.Logf("getdents on removed dir = %d entries %s", len(ents), ErrnoString(e))
	s.Close(fd)
	s.Stat("d")
	s.Mkdir("d", 0o700) // the name is free again
	s.Stat("d")
}
