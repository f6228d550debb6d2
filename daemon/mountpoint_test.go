package daemon

import (
	"bufio"
	"strings"
	"testing"
)

func TestParseMountinfo(t *testing.T) {
	const table = `22 1 0:21 / /proc rw,nosuid - proc proc rw
26 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 26 0:39 / /mnt/with\040space rw,nosuid,nodev shared:5 master:2 - fuse.btfuse btfuse rw,user_id=0
41 26 0:40 / /mnt/stacked rw - tmpfs tmpfs rw
42 41 0:41 / /mnt/stacked rw - fuse.btfuse my\134src rw
garbage line
`
	tests := []struct {
		dir      string
		fstype   string
		source   string
		maj, min uint32
	}{
		{"/proc", "proc", "proc", 0, 21},
		{"/mnt/with space", "fuse.btfuse", "btfuse", 0, 39},
		{"/mnt/stacked", "fuse.btfuse", `my\src`, 0, 41}, // the top one
		{"/mnt/none", "", "", 0, 0},
	}
	for _, tt := range tests {
		m, err := findMountIn(bufio.NewScanner(strings.NewReader(table)), tt.dir)
		if err != nil {
			t.Fatal(err)
		}
		if tt.fstype == "" {
			if m != nil {
				t.Errorf("%s: found %+v, want nothing", tt.dir, m)
			}
			continue
		}
		if m == nil || m.FSType != tt.fstype || m.Source != tt.source || m.Major != tt.maj || m.Minor != tt.min {
			t.Errorf("%s: got %+v, want %s from %s on %d:%d", tt.dir, m, tt.fstype, tt.source, tt.maj, tt.min)
		}
	}
	if m, _ := findMountIn(bufio.NewScanner(strings.NewReader(table)), "/mnt/with space"); !m.isFUSE() {
		t.Errorf("fuse.btfuse not seen as FUSE")
	}
}

func TestUnescapeOctal(t *testing.T) {
	for in, want := range map[string]string{
		`plain`:         "plain",
		`a\040b`:        "a b",
		`tab\011nl\012`: "tab\tnl\n",
		`back\134slash`: `back\slash`,
		`trailing\04`:   `trailing\04`,
		`not\999octal`:  `not\999octal`,
	} {
		if got := unescapeOctal(in); got != want {
			t.Errorf("unescapeOctal(%q) = %q, want %q", in, got, want)
		}
	}
}
