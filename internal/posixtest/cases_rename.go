package posixtest

import (
	"golang.org/x/sys/unix"
)

// Cases of rename and renameat2.
var renameCases = []Case{
	{"rename_table", caseRenameTable},
	{"rename_over_file", caseRenameOverFile},
	{"rename_dir_parent", caseRenameDirParent},
	{"rename_hardlinks", caseRenameHardlinks},
	{"rename_noreplace", caseRenameNoreplace},
	{"rename_exchange", caseRenameExchange},
	{"rename_times", caseRenameTimes},
}

// renameScene builds, in a fresh directory p, the names every rename case
// of the table starts from.
func renameScene(s *S, p string) {
	s.Must("mkdir", s.Mkdir(p, 0o755))
	s.WriteFile(p+"/file", "file", 0o644)
	s.WriteFile(p+"/file2", "file2", 0o644)
	s.Must("mkdir", s.Mkdir(p+"/dir", 0o755))
	s.WriteFile(p+"/dir/inner", "inner", 0o644)
	s.Must("mkdir", s.Mkdir(p+"/dir/sub", 0o755))
	s.Must("mkdir", s.Mkdir(p+"/empty", 0o755))
	s.Must("mkdir", s.Mkdir(p+"/full", 0o755))
	s.WriteFile(p+"/full/x", "x", 0o644)
	s.Must("symlink", s.Symlink("file", p+"/link"))
	s.Must("link", s.Link(p+"/file", p+"/hard"))
}

func caseRenameTable(s *S) {
	const (
		noreplace = unix.RENAME_NOREPLACE
		exchange  = unix.RENAME_EXCHANGE
	)
	for i, c := range []struct {
		from, to string
		flags    uint
		want     unix.Errno
	}{
		{"file", "new", 0, 0},
		{"file", "file2", 0, 0},
		{"file", "empty", 0, unix.EISDIR},
		{"file", "full", 0, unix.EISDIR},
		{"dir", "empty", 0, 0},
		{"dir", "full", 0, unix.ENOTEMPTY},
		{"dir", "file", 0, unix.ENOTDIR},
		{"dir", "dir/sub/moved", 0, unix.EINVAL},
		{"dir", "dir/moved", 0, unix.EINVAL},
		{"dir", "dir", 0, 0},
		{"file", "file", 0, 0},
		{"file", "hard", 0, 0}, // same inode: nothing happens
		{"link", "file", 0, 0},
		{"file", "link", 0, 0},
		{"missing", "new", 0, unix.ENOENT},
		{"file", "missing/new", 0, unix.ENOENT},
		{"file", "file2/new", 0, unix.ENOTDIR},
		{"file/", "new", 0, unix.ENOTDIR},
		{"file", "new/", 0, unix.ENOTDIR},
		{"dir/", "newdir/", 0, 0},
		{".", "new", 0, unix.EBUSY},
		{"dir/..", "new", 0, unix.EBUSY},
		{"file", ".", 0, unix.EBUSY},
		{"dir/sub", "dir/sub/..", 0, unix.EBUSY},
		{"empty", "full/x/y", 0, unix.ENOTDIR},
		{"file", "file2", noreplace, unix.EEXIST},
		{"file", "empty", noreplace, unix.EEXIST},
		{"file", "new", noreplace, 0},
		{"file", "hard", noreplace, unix.EEXIST},
		{"file", "dir", exchange, 0},
		{"dir", "full", exchange, 0},
		{"file", "missing", exchange, unix.ENOENT},
		{"missing", "file", exchange, unix.ENOENT},
		{"file", "file", exchange, 0},
		{"file", "hard", exchange, 0},
		{"dir", "dir/sub", exchange, unix.EINVAL},
		{"dir/sub", "dir", exchange, unix.EINVAL},
		{"file", "file2", noreplace | exchange, unix.EINVAL},
		{"file", "file2", 1 << 7, unix.EINVAL},
	} {
		p := "t" + string(rune('A'+i/26)) + string(rune('a'+i%26))
		renameScene(s, p)
		e := s.Rename(p+"/"+c.from, p+"/"+c.to, c.flags)
		s.Want("rename "+c.from+" "+c.to+" "+renameFlagNames[c.flags], e, c.want)
		snapshotLines(s, p)
	}
}

// snapshotLines records the tree under p: every name with FormatStat,
// link target and contents.
func snapshotLines(s *S, p string) {
	lines, err := Snapshot(s.Path(p))
	if err != nil {
		s.Logf("snapshot %q = %v", p, err)
		return
	}
	for _, l := range lines {
		s.Logf("  %s", l)
	}
}

func caseRenameOverFile(s *S) {
	s.WriteFile("a", "aaa", 0o600)
	s.WriteFile("b", "bbbbbb", 0o644)
	s.Must("link", s.Link("b", "b2"))
	fd, e := s.Open("b", unix.O_RDONLY, 0)
	s.Must("open", e)
	s.Want("rename a b", s.Rename("a", "b", 0), 0)
	s.Stat("b")
	s.ReadFile("b")
	s.Stat("b2") // the replaced inode lives on through its other link
	s.ReadFile("b2")
	s.Fstat(fd)
	s.Pread(fd, 10, 0)
	s.Close(fd)
	s.Lstat("a")
	s.Readdir("")
}

func caseRenameDirParent(s *S) {
	s.Must("mkdir", s.Mkdir("p1", 0o755))
	s.Must("mkdir", s.Mkdir("p2", 0o755))
	s.Must("mkdir", s.Mkdir("p1/d", 0o755))
	s.WriteFile("p1/d/f", "f", 0o644)
	s.Want("rename across parents", s.Rename("p1/d", "p2/d", 0), 0)
	s.Stat("p1")
	s.Stat("p2")
	s.ReadFile("p2/d/f")
	var parent, dotdot unix.Stat_t
	s.Must("stat", Errno(sys.Stat(s.Path("p2"), &parent)))
	s.Must("stat", Errno(sys.Stat(s.Path("p2/d/.."), &dotdot)))
	s.Logf("p2/d/.. is p2: %v", parent.Ino == dotdot.Ino && parent.Dev == dotdot.Dev)
	s.Check(parent.Ino == dotdot.Ino, "p2/d/.. is not p2 after the move")
	// Move the parent under a sibling, then the sibling away.
	s.Want("rename", s.Rename("p2", "p1/p2", 0), 0)
	s.ReadFile("p1/p2/d/f")
	s.Want("rename into own subtree", s.Rename("p1", "p1/p2/d/p1", 0), unix.EINVAL)
	s.Stat("p1")
	s.Stat("")
}

func caseRenameHardlinks(s *S) {
	s.WriteFile("a", "data", 0o644)
	s.Must("link", s.Link("a", "b"))
	t := s.Age("a")
	s.Want("rename between links", s.Rename("a", "b", 0), 0)
	s.TimesSince("a", t)
	s.Stat("a")
	s.Stat("b")
	s.Readdir("")
	s.Must("mkdir", s.Mkdir("d", 0o755))
	s.Must("link", s.Link("a", "d/c"))
	s.Want("rename between links in two dirs", s.Rename("d/c", "b", 0), 0)
	s.Stat("d/c")
	s.Stat("b")
}

func caseRenameNoreplace(s *S) {
	s.WriteFile("a", "a", 0o644)
	s.WriteFile("b", "b", 0o644)
	s.Symlink("nowhere", "dangling")
	s.Want("noreplace over file", s.Rename("a", "b", unix.RENAME_NOREPLACE), unix.EEXIST)
	s.Want("noreplace over dangling link", s.Rename("a", "dangling", unix.RENAME_NOREPLACE), unix.EEXIST)
	s.Want("noreplace to new name", s.Rename("a", "c", unix.RENAME_NOREPLACE), 0)
	s.ReadFile("b")
	s.ReadFile("c")
	s.Lstat("a")
}

func caseRenameExchange(s *S) {
	s.Must("mkdir", s.Mkdir("p", 0o755))
	s.Must("mkdir", s.Mkdir("q", 0o755))
	s.WriteFile("p/f", "file in p", 0o600)
	s.Must("mkdir", s.Mkdir("q/d", 0o700))
	s.Must("mkdir", s.Mkdir("q/d/sub", 0o755))
	s.Stat("p")
	s.Stat("q")
	// file <-> directory across parents: link counts of both parents move.
	s.Want("exchange file and dir", s.Rename("p/f", "q/d", unix.RENAME_EXCHANGE), 0)
	s.Stat("p")
	s.Stat("q")
	s.Stat("p/f")
	s.Stat("q/d")
	s.ReadFile("q/d")
	s.Stat("p/f/sub")
	var p, dotdot unix.Stat_t
	s.Must("stat", Errno(sys.Stat(s.Path("p"), &p)))
	s.Must("stat", Errno(sys.Stat(s.Path("p/f/.."), &dotdot)))
	s.Logf("p/f/.. is p: %v", p.Ino == dotdot.Ino)
	s.Check(p.Ino == dotdot.Ino, "p/f/.. is not p after the exchange")
	// symlink <-> file in one directory
	s.Symlink("target", "p/l")
	s.Want("exchange link and dir", s.Rename("p/l", "p/f", unix.RENAME_EXCHANGE), 0)
	s.Lstat("p/l")
	s.Lstat("p/f")
	s.Want("exchange with missing", s.Rename("p/l", "p/none", unix.RENAME_EXCHANGE), unix.ENOENT)
	s.Readdir("p")
	s.Readdir("q")
}

func caseRenameTimes(s *S) {
	s.Must("mkdir", s.Mkdir("p", 0o755))
	s.Must("mkdir", s.Mkdir("q", 0o755))
	s.WriteFile("p/f", "f", 0o644)
	s.Must("mkdir", s.Mkdir("p/d", 0o755))
	tp, tq, tf, td := s.Age("p"), s.Age("q"), s.Age("p/f"), s.Age("p/d")
	s.Rename("p/f", "q/f", 0)
	s.Rename("p/d", "q/d", 0)
	s.TimesSince("p", tp)
	s.TimesSince("q", tq)
	s.TimesSince("q/f", tf)
	s.TimesSince("q/d", td)
}
