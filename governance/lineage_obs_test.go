package governance

import "testing"

func TestIsObservationPath(t *testing.T) {
	for p, want := range map[string]bool{
		".trove/store/monitor/observations/churn/" + obsHex + ".json": true,
		".trove/store/monitor/observations/churn/x.json":              true, // the shape; ids are checked where read
		".trove/store/monitor/observations/" + obsHex + ".json":       false,
		".trove/store/monitor/observations/a/b/" + obsHex + ".json":   false,
		".trove/store/monitor/events/" + obsHex + ".json":             false,
		"data/train.csv": false,
		"":               false,
	} {
		if got := IsObservationPath(p); got != want {
			t.Errorf("IsObservationPath(%q) = %v, want %v", p, got, want)
		}
	}
}

const obsHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
