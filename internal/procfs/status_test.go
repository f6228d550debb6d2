package procfs

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseStatus(t *testing.T) {
	full := "Name:\tsh\nUmask:\t0027\nState:\tS\nTgid:\t42\nPid:\t43\nUid:\t1000\t1001\t1002\t1003\nGid:\t2000\t2001\t2002\t2003\nFDSize:\t64\nGroups:\t4 24 27 \nNStgid:\t42\nThreads:\t1\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t0000000000000006\nCapBnd:\t000001ffffffffff\n"
	for _, tc := range []struct {
		name string
		in   string
		ok   bool
		want Status
	}{
		{"full", full, true, Status{Tgid: 42, Umask: 0o027, RUID: 1000, FSUID: 1003, RGID: 2000, FSGID: 2003, Groups: []uint32{4, 24, 27}, CapPrm: 0x1ffffffffff, CapEff: 6}},
		{"no groups", "Tgid:\t7\nUid:\t1 1 1 1\nGid:\t2 2 2 2\nGroups:\t\nCapPrm:\t0\nCapEff:\t0\n", true, Status{Tgid: 7, Umask: 0o022, RUID: 1, FSUID: 1, RGID: 2, FSGID: 2}},
		{"no capabilities", "Uid:\t1 1 1 1\nGid:\t2 2 2 2\nGroups:\t\n", false, Status{Umask: 0o022, RUID: 1, FSUID: 1, RGID: 2, FSGID: 2}},
		{"capabilities cut off", strings.TrimSuffix(full, "CapEff:\t0000000000000006\nCapBnd:\t000001ffffffffff\n") + "CapEff:\t00000", false, Status{Tgid: 42, Umask: 0o027, RUID: 1000, FSUID: 1003, RGID: 2000, FSGID: 2003, Groups: []uint32{4, 24, 27}, CapPrm: 0x1ffffffffff}},
		{"garbage capability", "Uid:\t1 1 1 1\nGid:\t2 2 2 2\nGroups:\t\nCapPrm:\tzz\nCapEff:\t0\n", false, Status{Umask: 0o022, RUID: 1, FSUID: 1, RGID: 2, FSGID: 2}},
		{"groups cut off", "Uid:\t1 1 1 1\nGid:\t2 2 2 2\nGroups:\t4 5", false, Status{Umask: 0o022, RUID: 1, FSUID: 1, RGID: 2, FSGID: 2}},
		{"short uid line", "Uid:\t1 1\nGid:\t2 2 2 2\nGroups:\t\n", false, Status{Umask: 0o022}},
		{"garbage group", "Uid:\t1 1 1 1\nGid:\t2 2 2 2\nGroups:\t4 x\n", false, Status{Umask: 0o022, RUID: 1, FSUID: 1, RGID: 2, FSGID: 2, Groups: []uint32{4}}},
		{"empty", "", false, Status{Umask: 0o022}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseStatus([]byte(tc.in))
			if ok != tc.ok || got.Tgid != tc.want.Tgid || got.Umask != tc.want.Umask ||
				got.RUID != tc.want.RUID || got.FSUID != tc.want.FSUID || got.RGID != tc.want.RGID ||
				got.FSGID != tc.want.FSGID || !slices.Equal(got.Groups, tc.want.Groups) ||
				got.CapPrm != tc.want.CapPrm || got.CapEff != tc.want.CapEff {
				t.Errorf("ParseStatus = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// ReadStatus of this very thread group agrees with what the process knows
// about itself.
func TestReadStatusSelf(t *testing.T) {
	st, ok := ReadStatus(os.Getpid())
	if !ok {
		t.Fatal("ReadStatus(self) failed")
	}
	groups, err := os.Getgroups()
	if err != nil {
		t.Fatal(err)
	}
	if st.Tgid != os.Getpid() || st.RUID != uint32(os.Getuid()) || st.RGID != uint32(os.Getgid()) || len(st.Groups) != len(groups) {
		t.Errorf("ReadStatus(self) = %+v; pid %d uid %d gid %d groups %v", st, os.Getpid(), os.Getuid(), os.Getgid(), groups)
	}
	var hdr unix.CapUserHeader
	var data [2]unix.CapUserData
	hdr.Version = unix.LINUX_CAPABILITY_VERSION_3
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		t.Fatal(err)
	}
	if eff := uint64(data[1].Effective)<<32 | uint64(data[0].Effective); st.CapEff != eff {
		t.Errorf("ReadStatus(self).CapEff = %#x; capget says %#x", st.CapEff, eff)
	}
	if _, ok := ReadStatus(1 << 30); ok {
		t.Error("ReadStatus of a thread that cannot exist succeeded")
	}
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte("Uid:\t1 1 1 1\nGid:\t2 2 2 2\nGroups:\t4 5\nCapPrm:\t0\nCapEff:\t1f\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseStatus(b) // must not panic
	})
}

// A child in a new user namespace is not in this one; this thread is.
func TestSameUserNS(t *testing.T) {
	if !SameUserNS(unix.Gettid()) {
		t.Fatal("this thread is not in its own process's user namespace")
	}
	if SameUserNS(1 << 30) {
		t.Error("a thread that cannot exist is in this user namespace")
	}
	cmd := exec.Command("sleep", "10")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
	if err := cmd.Start(); err != nil {
		if os.Getenv("BTFUSE_REQUIRE_PRIVILEGED") == "1" {
			t.Fatalf("no user namespace: %v", err)
		}
		t.Skipf("no user namespace: %v", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if SameUserNS(cmd.Process.Pid) {
		t.Error("a child in a new user namespace is in this one")
	}
}

func TestParseIDMap(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		want []IDExtent
	}{
		{"         0          0 4294967295\n", true, []IDExtent{{0, 4294967295}}},
		{"0 100000 65536\n65536 1000 1\n", true, []IDExtent{{100000, 65536}, {1000, 1}}},
		{"", true, nil},
		{"0 0 1", false, nil},
		{"0 x 1\n", false, nil},
		{"0 1\n", false, nil},
	} {
		got, ok := ParseIDMap([]byte(tc.in))
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("ParseIDMap(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	uids, gids, ok := ReadIDMaps(unix.Gettid())
	if !ok || len(uids) == 0 || len(gids) == 0 {
		t.Errorf("ReadIDMaps(self) = %v, %v, %v", uids, gids, ok)
	}
}
