package benchsuite

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestJSONKeepsEverySample(t *testing.T) {
	rep := testReport()
	p := filepath.Join(t.TempDir(), "b.json")
	if err := rep.WriteJSON(p); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rep, back) {
		t.Errorf("round trip changed the report:\n got %+v\nwant %+v", back, rep)
	}

	// The field names are the interface of scripts reading the file.
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Modes     []string `json:"modes"`
		Workloads []struct {
			Name    string           `json:"name"`
			Error   string           `json:"error"`
			Samples []map[string]any `json:"samples"`
		} `json:"workloads"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Workloads) != 3 || len(doc.Modes) != 4 {
		t.Fatalf("%d workloads, %d modes in %s", len(doc.Workloads), len(doc.Modes), raw)
	}
	for _, w := range doc.Workloads[:2] {
		if len(w.Samples) != 12 {
			t.Errorf("%s: %d samples, want 3 rounds x 4 modes", w.Name, len(w.Samples))
		}
		for _, s := range w.Samples {
			for _, k := range []string{"round", "mode", "ns", "count", "wall_ns"} {
				if _, ok := s[k]; !ok {
					t.Errorf("%s: sample %v lacks %q", w.Name, s, k)
				}
			}
		}
	}
	if doc.Workloads[2].Error == "" {
		t.Errorf("the failed workload has no error in the JSON")
	}
}

func TestReadJSONError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(p, []byte("{not json"), 0o644)
	if _, err := ReadJSON(p); err == nil {
		t.Error("ReadJSON accepted a broken file")
	}
}

func TestReportFailed(t *testing.T) {
	r := &Report{Workloads: []*Result{{Name: "stat"}, {Name: "git", Error: "no git"}, {Name: "tar", Error: "boom"}}}
	if err := r.Failed(); err == nil || err.Error() != "2 of 3 workloads failed (git, tar); see below the table" {
		t.Errorf("Failed() = %v", err)
	}
	r.Workloads = r.Workloads[:1]
	if err := r.Failed(); err != nil {
		t.Errorf("Failed() with none failed = %v, want nil", err)
	}
}
