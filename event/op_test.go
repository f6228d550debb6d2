package event

import (
	"strings"
	"testing"
)

// Every op defined here has a name of its own, short enough for a
// segment's name slot.
func TestFixedOpNames(t *testing.T) {
	seen := map[string]Op{}
	for o := range OpSyscall + 1 {
		n := o.String()
		if n == "" || n == "op?" || len(n) > MaxNameLen {
			t.Errorf("op %d named %q", o, n)
		}
		if p, dup := seen[n]; dup {
			t.Errorf("ops %d and %d both named %q", p, o, n)
		}
		seen[n] = o
		if o < NumFUSEOps && n != strings.ToUpper(n) {
			t.Errorf("FUSE op %q not upper case", n)
		}
	}
}

func TestRegister(t *testing.T) {
	o := Register("test-op")
	if o <= OpSyscall || o >= NumOps() || o.String() != "test-op" {
		t.Fatalf("Register gave op %d (%q), NumOps %d", o, o, NumOps())
	}
	if got, ok := Lookup("test-op"); !ok || got != o {
		t.Errorf("Lookup = %d, %v", got, ok)
	}
	if s := NumOps().String(); s != "op?" {
		t.Errorf("unregistered op named %q", s)
	}
	for _, name := range []string{"test-op", "LOOKUP", "", strings.Repeat("x", MaxNameLen+1)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", name)
				}
			}()
			Register(name)
		}()
	}
}
