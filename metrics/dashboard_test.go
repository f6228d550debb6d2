package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/btfuse/btfuse/shmring"
)

// The Grafana dashboard queries only metrics the collector exports.
func TestDashboardMetrics(t *testing.T) {
	b, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	known := map[string]bool{}
	ch := make(chan *prometheus.Desc, 32)
	NewCollector(func() (shmring.Snapshot, error) { return shmring.Snapshot{}, nil }, "/m").Describe(ch)
	close(ch)
	name := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range ch {
		n := name.FindStringSubmatch(d.String())[1]
		known[n] = true
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			known[n+suf] = true
		}
	}
	used := regexp.MustCompile(`btfuse_[a-z_]+`)
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range used.FindAllString(tg.Expr, -1) {
				n++
				if !known[m] {
					t.Errorf("panel %q queries %s, which is not exported", p.Title, m)
				}
			}
			if !strings.Contains(tg.Expr, "$mount") {
				t.Errorf("panel %q ignores the mount variable: %s", p.Title, tg.Expr)
			}
		}
	}
	if n == 0 {
		t.Errorf("dashboard queries nothing")
	}
}
