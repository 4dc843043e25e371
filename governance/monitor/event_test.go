package monitor

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func breachEvent(t *testing.T, model string) *Event {
	t.Helper()
	p := mustPolicy(t, monitorsYAML)
	o := sample()
	o.Model = model
	o.Metrics = map[string]float64{"accuracy": 0.5, "samples": 5000}
	rep := Evaluate(p, Input{Subject: Subject{Model: model, Version: "v1.0.0", Stage: "production", Training: map[string]float64{"accuracy": 0.9}},
		Observation: stored(o), Now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)})
	ev, err := NewEvent(rep)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// A batch is the CloudEvents JSON batch format: an array of structured
// events; a single event stays an object; both decode.
func TestEventBatch(t *testing.T) {
	a, b := breachEvent(t, "churn"), breachEvent(t, "fraud")
	batch, err := EncodeBatch([]*Event{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(batch, []byte("[\n  {\n    \"data\": {")) || !bytes.HasSuffix(batch, []byte("}\n]\n")) {
		t.Fatalf("batch encoding:\n%s", batch)
	}
	evs, err := DecodeEvents(batch)
	if err != nil || len(evs) != 2 || evs[0].ID != a.ID || evs[1].ID != b.ID {
		t.Fatalf("decode batch: %v %v", evs, err)
	}
	one, _ := a.Encode()
	if evs, err := DecodeEvents(one); err != nil || len(evs) != 1 || evs[0].ID != a.ID {
		t.Fatalf("decode one: %v %v", evs, err)
	}
	if empty, _ := EncodeBatch(nil); string(empty) != "[]\n" {
		t.Fatalf("empty batch %q", empty)
	}
	for name, in := range map[string][]byte{
		"empty batch":   []byte("[]"),
		"twice":         mustBatch(t, a, a),
		"not events":    []byte(`[{"specversion": "1.0"}]`),
		"trailing data": append(append([]byte(nil), batch...), []byte("[]")...),
		"altered":       bytes.Replace(batch, []byte(`"subject": "fraud@v1.0.0"`), []byte(`"subject": "churn@v1.0.0"`), 1),
		"not json":      []byte("[{"),
	} {
		if _, err := DecodeEvents(in); !errors.Is(err, ErrEvent) {
			t.Errorf("%s: %v, want ErrEvent", name, err)
		}
	}
}

func mustBatch(t *testing.T, evs ...*Event) []byte {
	t.Helper()
	b, err := EncodeBatch(evs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSelectEventsAndTrigger(t *testing.T) {
	a, b := breachEvent(t, "churn"), breachEvent(t, "fraud")
	all := []*Event{a, b}
	if got, err := SelectEvents(all, ""); err != nil || len(got) != 2 {
		t.Fatalf("no model: %v %v", got, err)
	}
	got, err := SelectEvents(all, "fraud")
	if err != nil || len(got) != 1 || got[0] != b {
		t.Fatalf("fraud: %v %v", got, err)
	}
	// "churn" must not select "churn-v2@..." nor the reverse.
	if _, err := SelectEvents(all, "chur"); !errors.Is(err, ErrNoEventForModel) {
		t.Fatalf("prefix of a name: %v", err)
	}
	tr := Trigger(all)
	if tr != "event:"+a.ID+" event:"+b.ID {
		t.Fatalf("trigger %q", tr)
	}
	ids, ok := TriggerEvents(tr)
	if !ok || len(ids) != 2 || ids[0].String() != a.ID || ids[1].String() != b.ID {
		t.Fatalf("TriggerEvents(%q) = %v %v", tr, ids, ok)
	}
	for _, s := range []string{"", "ci", "event:blake3:00", "event:" + a.ID + "  event:" + b.ID, "https://ci/run/1 event:" + a.ID} {
		if _, ok := TriggerEvents(s); ok {
			t.Errorf("TriggerEvents(%q) took it for events", s)
		}
	}
}

// FuzzDecodeEvents: the event and batch decoder never panics, and every
// event it accepts re-encodes to an event that decodes to the same id.
func FuzzDecodeEvents(f *testing.F) {
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"specversion": "1.0"}]`))
	f.Add([]byte(` {"specversion": "1.0", "type": "dev.trove.monitor.retrain_recommended"}`))
	f.Add([]byte(`[[]]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := DecodeEvents(b)
		if err != nil {
			return
		}
		for _, e := range evs {
			enc, err := e.Encode()
			if err != nil {
				t.Fatal(err)
			}
			back, err := DecodeEvent(enc)
			if err != nil || back.ID != e.ID {
				t.Fatalf("accepted %q but its re-encoding does not decode: %v", b, err)
			}
		}
	})
}
