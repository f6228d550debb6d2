package daemon

import (
	"strings"
	"testing"
)

func TestParseMountOptions(t *testing.T) {
	tests := []struct {
		name      string
		lists     []string
		euid      int
		dev, suid bool
		err       string
	}{
		{name: "none"},
		{name: "dev,suid", lists: []string{"dev,suid"}, dev: true, suid: true},
		{name: "repeated -o", lists: []string{"dev", "suid"}, dev: true, suid: true},
		{name: "later wins", lists: []string{"dev,suid,nodev"}, suid: true},
		{name: "empty items", lists: []string{",dev,,"}, dev: true},
		{name: "defaults spelled out", lists: []string{"nosuid,nodev"}, euid: 1000},
		{name: "dev as user", lists: []string{"dev"}, euid: 1000, err: "-o dev: only root may mount with dev"},
		{name: "suid as user", lists: []string{"nodev,suid"}, euid: 1000, err: "-o suid: only root may mount with suid"},
		{name: "unknown", lists: []string{"dev,bogus"}, err: "-o bogus: unknown mount option (known: size=VALUE, inodes=VALUE"},
		{name: "value on a flag", lists: []string{"dev=1"}, err: "-o dev=1: dev takes no value"},
		{name: "flag without value", lists: []string{"size"}, err: "-o size: needs a value: size=VALUE"},
		{name: "bad size", lists: []string{"size=lots"}, err: `-o size=lots: invalid size "lots"`},
		{name: "zero inodes", lists: []string{"inodes=0"}, err: `-o inodes=0: invalid count "0"`},
		{name: "bad mode", lists: []string{"mode=999"}, err: "-o mode=999: want octal permission bits"},
		{name: "big mode", lists: []string{"mode=17777"}, err: "-o mode=17777: want octal permission bits"},
		{name: "bad uid", lists: []string{"uid=no-such-user-here"}, err: `no such user or group "no-such-user-here"`},
		{name: "bad fsname", lists: []string{"fsname=a b"}, err: "-o fsname=a b: want a name without blanks"},
		// What mount(8) and fstab readers use, and btfuse ignores.
		{name: "fstab options", lists: []string{"defaults,noauto,auto,user,nouser,users,owner,group,_netdev,nofail,async,relatime,noatime,x-systemd.automount,X-mount.mkdir=0755,comment=x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg Config
			err := ParseMountOptions(tt.lists, tt.euid, &cfg)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || cfg.Dev != tt.dev || cfg.SUID != tt.suid {
				t.Errorf("dev %v suid %v, err %v; want dev %v suid %v", cfg.Dev, cfg.SUID, err, tt.dev, tt.suid)
			}
		})
	}
}

// TestParseMountOptionsValues: the options with values land in Config,
// a later one wins, and sloppy ignores unknown ones (mount -s).
func TestParseMountOptionsValues(t *testing.T) {
	var cfg Config
	err := ParseMountOptions([]string{"size=1M,inodes=1k,uid=7,gid=root,mode=1777,ro,noexec,allow_other,fsname=mem", "size=2M"}, 0, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SizeBytes != 2<<20 || cfg.Inodes != 1024 || cfg.RootUID == nil || *cfg.RootUID != 7 || cfg.RootGID == nil || *cfg.RootGID != 0 ||
		cfg.RootMode == nil || *cfg.RootMode != 0o1777 || !cfg.ReadOnly || !cfg.NoExec || !cfg.AllowOther || cfg.FsName != "mem" {
		t.Errorf("cfg %+v", cfg)
	}
	if err := ParseMountOptions([]string{"rw,exec"}, 0, &cfg); err != nil || cfg.ReadOnly || cfg.NoExec {
		t.Errorf("rw,exec after ro,noexec: ro %v noexec %v, %v", cfg.ReadOnly, cfg.NoExec, err)
	}
	cfg = Config{Sloppy: true}
	if err := ParseMountOptions([]string{"bogus,size=1M"}, 0, &cfg); err != nil || cfg.SizeBytes != 1<<20 {
		t.Errorf("sloppy: %v, size %d", err, cfg.SizeBytes)
	}
}
