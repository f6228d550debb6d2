package faults

import (
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		rule  string
		check func(*Rule) bool
		names string // the set, sorted, when not ""
	}{
		{"write:error=EPERM", func(r *Rule) bool { return r.Errno == unix.EPERM && r.First == 1 && r.Step == 1 }, "write"},
		{"openat,stat:retval=42", func(r *Rule) bool { return r.HasRetval && r.Retval == 42 }, "openat,stat"},
		{"open:error=13", func(r *Rule) bool { return r.Errno == unix.EACCES }, ""},
		{"%stat:error=ENOENT", nil, "newfstatat,stat,statx"},
		{"%%stat:error=ENOENT", nil, "fstat,lstat,newfstatat,stat,statx"},
		{"%write:error=EIO", nil, "pwrite64,write,writev"},
		{"/^unlink:error=EBUSY", nil, "unlink,unlinkat"},
		{"?nosuch,mkdir:error=EEXIST", nil, "mkdir"},
		{"write:signal=USR1", func(r *Rule) bool { return r.Signal == unix.SIGUSR1 }, ""},
		{"write:signal=SIGTERM", func(r *Rule) bool { return r.Signal == unix.SIGTERM }, ""},
		{"write:delay_enter=800000", func(r *Rule) bool { return r.DelayEnter == 800*time.Millisecond }, ""},
		{"write:delay_exit=20ms", func(r *Rule) bool { return r.DelayExit == 20*time.Millisecond }, ""},
		{"write:error=EIO:when=3", func(r *Rule) bool { return r.First == 3 && r.Last == 3 && r.Step == 0 }, ""},
		{"write:error=EIO:when=3+", func(r *Rule) bool { return r.First == 3 && r.Last > 1<<40 && r.Step == 1 }, ""},
		{"write:error=EIO:when=3+2", func(r *Rule) bool { return r.First == 3 && r.Step == 2 }, ""},
		{"write:error=EIO:when=2..5", func(r *Rule) bool { return r.First == 2 && r.Last == 5 && r.Step == 1 }, ""},
		{"write:error=EIO:when=2..9+3", func(r *Rule) bool { return r.First == 2 && r.Last == 9 && r.Step == 3 }, ""},
		{"write:error=EIO:path=/a\\:b/*", func(r *Rule) bool { return r.Path == "/a:b/*" }, ""},
		{"write:error=EIO:prob=25%:seed=7", func(r *Rule) bool { return r.Prob == 0.25 && r.Seed == 7 && r.HasSeed }, ""},
		{"read:short=1k", func(r *Rule) bool { return r.Short == 1024 }, ""},
		{"%read,%write:corrupt=3", func(r *Rule) bool { return r.Corrupt == 3 }, ""},
		{"write,pwrite64:enospc=1M", func(r *Rule) bool { return r.ENOSPC == 1<<20 }, ""},
		{"all:error=EIO:pid=12,13:comm=sh:count=2", func(r *Rule) bool {
			return len(r.Pids) == 2 && r.Comm == "sh" && r.Count == 2
		}, ""},
		{"!%data:error=EIO", func(r *Rule) bool { return !r.Syscalls.Has(SyscallID("read")) && r.Syscalls.Has(SyscallID("open")) }, ""},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			r, err := Parse(tc.rule)
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil && !tc.check(r) {
				t.Errorf("parsed %+v", r)
			}
			if tc.names != "" {
				if got := strings.Join(r.Syscalls.Syscalls(), ","); got != tc.names {
					t.Errorf("set %s, want %s", got, tc.names)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		rule string
		pos  int
		msg  string
	}{
		{"write", 5, "no action"},
		{"", 0, "no syscall set"},
		{"nosuch:error=EIO", 0, "names no syscall"},
		{"write,nosuch:error=EIO", 6, "names no syscall"},
		{"write:error=EFOO", 12, "errno name"},
		{"write:error=EIO:retval=1", 0, "exclude"},
		{"write:when=0:error=EIO", 11, "FIRST"},
		{"write:when=5..2:error=EIO", 11, "FIRST"},
		{"write:error=EIO:prob=2", 21, "probability"},
		{"open:short=3", 0, "apply to read"},
		{"read:enospc=3", 0, "applies to write"},
		{"write:frob=1", 6, "unknown key"},
		{"write:error=EIO:error=EPERM", 16, "twice"},
		{"write:syscall=getpid:error=EIO", 14, "not supported"},
		{"write:error=EIO:path=[ab", 21, "unclosed"},
		{"%nosuch:error=EIO", 0, "unknown class"},
		{"write:error=EIO:delay_enter=3h", 28, "microseconds"},
		{"write:error=EIO:count=0", 22, "never"},
		{"write:signal=SIGFOO", 13, "unknown signal"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			_, err := Parse(tc.rule)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("err %v, want *Error", err)
			}
			if pe.Pos != tc.pos || !strings.Contains(pe.Msg, tc.msg) {
				t.Errorf("pos %d msg %q, want pos %d and %q", pe.Pos, pe.Msg, tc.pos, tc.msg)
			}
			if !strings.Contains(err.Error(), "accepted syntax") {
				t.Errorf("error does not quote the syntax: %v", err)
			}
		})
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		glob, path string
		want       bool
	}{
		{"*/123.txt", "/tmp/x/123.txt", true},
		{"*/123.txt", "/123.txt", true},
		{"*/123.txt", "/tmp/x/1234.txt", false},
		{"123.txt", "/a/b/123.txt", true},
		{"/tmp/*.log", "/tmp/a.log", true},
		{"/tmp/*.log", "/tmp/d/a.log", false},
		{"/tmp/**.log", "/tmp/d/a.log", true},
		{"/tmp/**/a.log", "/tmp/a.log", true},
		{"/tmp/**/a.log", "/tmp/x/y/a.log", true},
		{"/tmp/?.log", "/tmp/ab.log", false},
		{"/tmp/[ab].log", "/tmp/b.log", true},
		{"/tmp/[!ab].log", "/tmp/b.log", false},
		{"/tmp/a+b(1).txt", "/tmp/a+b(1).txt", true},
	} {
		re, err := compileGlob(tc.glob)
		if err != nil {
			t.Fatal(err)
		}
		if got := re.MatchString(tc.path); got != tc.want {
			t.Errorf("glob %q path %q: %v, want %v (regexp %s)", tc.glob, tc.path, got, tc.want, re)
		}
	}
}

func TestParseFile(t *testing.T) {
	rs, err := ParseFile("f", "# comment\nwrite:error=EIO\n\n open:error=ENOENT \n")
	if err != nil || len(rs) != 2 {
		t.Fatalf("%v %v", rs, err)
	}
	if _, err := ParseFile("f", "write:error=EIO\nbad\n"); err == nil || !strings.Contains(err.Error(), "f:2:") {
		t.Errorf("err %v, want line 2", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"write:error=EPERM:path=*/123.txt", "%file,!x:retval=1:when=2..8+3", "read:short=4k:prob=0.5:seed=3",
		"a\\:b:c", "?x,/re[:delay_enter=1s", "write:enospc=1G:comm=sh:pid=1,2:count=3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Pos < 0 || pe.Pos > len(s) {
				t.Fatalf("error %v: want *Error with a position within the rule", err)
			}
			return
		}
		if r.Syscalls.empty() || r.First == 0 || r.Prob < 0 || r.Prob > 1 {
			t.Fatalf("accepted %q as %+v", s, r)
		}
		if r.path != nil {
			r.path.MatchString(s)
		}
	})
}
