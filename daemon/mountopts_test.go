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
		{name: "unknown", lists: []string{"dev,bogus"}, err: "-o bogus: unknown mount option (known: dev, nodev, suid, nosuid)"},
		{name: "value on a flag", lists: []string{"dev=1"}, err: "-o dev=1: dev takes no value"},
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
