package monitor

import (
	"testing"
	"time"

	"github.com/trove-dev/trove/governance/report/reporttest"
)

// The observation and the event validate against their published schemas
// (testdata/schemas/monitor).
func TestSchemas(t *testing.T) {
	c := reporttest.Schemas(t)
	b, err := sample().Encode()
	if err != nil {
		t.Fatal(err)
	}
	const obsSchema = "https://github.com/trove-dev/trove/schemas/trove-observation-v1.schema.json"
	if err := reporttest.Validate(t, c, obsSchema, b); err != nil {
		t.Fatalf("observation: %v", err)
	}
	if err := reporttest.Validate(t, c, obsSchema, []byte(`{"trove": 1, "model": "m", "version": "v1", "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "recorded_at": "2026-01-01T00:00:00Z", "metrics": {}, "features": {"a": {"values": [1], "edges": [1]}}}`)); err == nil {
		t.Fatal("the schema accepts a feature with values and edges")
	}
	p := mustPolicy(t, monitorsYAML)
	o := sample()
	o.Metrics = map[string]float64{"accuracy": 0.5, "samples": 5000}
	rep := Evaluate(p, Input{Subject: Subject{Model: "churn", Version: "v1.0.0", Stage: "production", Digest: "blake3:" + hex64('a'), Training: map[string]float64{"accuracy": 0.9}},
		Observation: stored(o), Now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)})
	ev, err := NewEvent(rep)
	if err != nil {
		t.Fatal(err)
	}
	eb, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := reporttest.Validate(t, c, "https://github.com/trove-dev/trove/schemas/trove-event-v1.schema.json", eb); err != nil {
		t.Fatalf("event: %v\n%s", err, eb)
	}
}

func hex64(c byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return string(b)
}
