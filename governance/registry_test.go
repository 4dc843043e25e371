package governance

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// commitOf makes a distinct fake commit hash per version.
func commitOf(v string) string {
	return fmt.Sprintf("%040x", []byte(v))[:40]
}

// ev builds the event ReadRegistry would read from a tag trove created. For an
// assignment or deregistration, version names the version (and its commit).
func ev(tag, when, version string) Event {
	tn, err := ParseTagName(tag)
	if err != nil {
		panic(err)
	}
	if version == "" {
		version = tn.Version
	}
	r := &Record{Trove: 1, Action: tn.Action, Name: tn.Name, Version: version, Stage: tn.Stage, At: when, By: "T <t@x>"}
	if tn.Action == ActionRegister {
		r.Artifact, r.Digest, r.ManifestCommit = "models/m.bin", testDigest, commitOf(version)
	}
	if tn.Action == ActionDeprecate {
		r.Version = ""
	}
	return Event{Tag: tag, Action: tn.Action, Name: tn.Name, Version: r.Version, Stage: tn.Stage, Counter: tn.Counter,
		Commit: commitOf(version), At: at(when), By: r.By, Record: r}
}

// gtoEv builds the event of a tag GTO created: no record, the commit decides.
func gtoEv(tag, when, commitVersion string) Event {
	e := ev(tag, when, commitVersion)
	e.Record = nil
	tn, _ := ParseTagName(tag)
	e.Version = tn.Version
	return e
}

var stages3 = []string{"dev", "staging", "production"}

// holders renders the stage holders as "dev=- staging=v1 production=v2".
func holders(hs []StageHolder) string {
	var parts []string
	for _, h := range hs {
		v := h.Version
		if v == "" {
			v = "-"
		}
		parts = append(parts, h.Stage+"="+v)
	}
	return strings.Join(parts, " ")
}

func TestStagesAsOf(t *testing.T) {
	reg := NewRegistry([]Event{
		// Deliberately out of order: the registry sorts by time, then counter.
		ev("m#production#3", "2026-01-03T00:00:00Z", "v1.0.0"),
		ev("m@v1.0.0", "2026-01-01T00:00:00Z", ""),
		ev("m#staging#1", "2026-01-02T00:00:00Z", "v1.0.0"),
		ev("m@v1.1.0", "2026-01-04T00:00:00Z", ""),
		ev("m#staging#4", "2026-01-05T00:00:00Z", "v1.1.0"),
		ev("m#production#5", "2026-01-06T00:00:00Z", "v1.1.0"),
		ev("m@v1.1.0!#6", "2026-01-07T00:00:00Z", ""),
		ev("other@v0.0.1", "2026-01-01T00:00:00Z", ""),
	})
	for _, tc := range []struct {
		when   string
		want   string
		latest string
	}{
		{"2025-12-31T00:00:00Z", "", ""}, // before anything: the model did not exist
		{"2026-01-01T00:00:00Z", "dev=- staging=- production=-", "v1.0.0"},
		{"2026-01-02T00:00:00Z", "dev=- staging=v1.0.0 production=-", "v1.0.0"}, // inclusive
		{"2026-01-02T12:00:00Z", "dev=- staging=v1.0.0 production=-", "v1.0.0"},
		{"2026-01-03T12:00:00Z", "dev=- staging=v1.0.0 production=v1.0.0", "v1.0.0"},
		{"2026-01-04T12:00:00Z", "dev=- staging=v1.0.0 production=v1.0.0", "v1.1.0"},
		{"2026-01-05T12:00:00Z", "dev=- staging=v1.1.0 production=v1.0.0", "v1.1.0"},
		{"2026-01-06T12:00:00Z", "dev=- staging=v1.1.0 production=v1.1.0", "v1.1.0"},
		// Deprecating v1.1.0 empties both its stages; v1.0.0 does not come back.
		{"2026-01-07T12:00:00Z", "dev=- staging=- production=-", "v1.0.0"},
	} {
		m, err := reg.Model("m", at(tc.when), stages3)
		if tc.want == "" {
			// Every event is after the moment: the events list is empty, but the
			// model is known; its stages are all empty.
			if err != nil {
				t.Fatalf("as of %s: %v", tc.when, err)
			}
			if len(m.Events) != 0 || m.Latest != "" {
				t.Errorf("as of %s: %d events, latest %q", tc.when, len(m.Events), m.Latest)
			}
			continue
		}
		if err != nil {
			t.Fatalf("as of %s: %v", tc.when, err)
		}
		if got := holders(m.Stages); got != tc.want {
			t.Errorf("as of %s: %s, want %s", tc.when, got, tc.want)
		}
		if m.Latest != tc.latest {
			t.Errorf("as of %s: latest %s, want %s", tc.when, m.Latest, tc.latest)
		}
		if len(m.Warnings) > 0 {
			t.Errorf("as of %s: warnings %v", tc.when, m.Warnings)
		}
	}

	// The full history answers the same questions (HoldersAt) as replaying to
	// the moment does (Model with asOf).
	full, err := reg.Model("m", time.Time{}, stages3)
	if err != nil {
		t.Fatal(err)
	}
	for d := at("2026-01-01T00:00:00Z"); d.Before(at("2026-01-08T00:00:00Z")); d = d.Add(6 * time.Hour) {
		m, _ := reg.Model("m", d, stages3)
		if a, b := holders(HoldersAt(full, d)), holders(m.Stages); a != b {
			t.Errorf("at %s: HoldersAt says %s, replay says %s", d.Format(time.RFC3339), a, b)
		}
	}
	wantHistory := []string{
		"staging v1.0.0 2026-01-02T00:00:00Z..2026-01-05T00:00:00Z by m#staging#4",
		"production v1.0.0 2026-01-03T00:00:00Z..2026-01-06T00:00:00Z by m#production#5",
		"staging v1.1.0 2026-01-05T00:00:00Z..2026-01-07T00:00:00Z by m@v1.1.0!#6",
		"production v1.1.0 2026-01-06T00:00:00Z..2026-01-07T00:00:00Z by m@v1.1.0!#6",
	}
	if len(full.History) != len(wantHistory) {
		t.Fatalf("history: %+v", full.History)
	}
	for i, sp := range full.History {
		got := fmt.Sprintf("%s %s %s..%s by %s", sp.Stage, sp.Version, sp.From, sp.Until, sp.EndedBy)
		if got != wantHistory[i] {
			t.Errorf("history %d: %s, want %s", i, got, wantHistory[i])
		}
	}
	if got := full.Versions; len(got) != 2 || got[0].Version != "v1.0.0" || got[1].Version != "v1.1.0" || !got[1].Deprecated || got[0].Deprecated {
		t.Errorf("versions: %+v", got)
	}
	if reg.nextCounter("m") != 7 || reg.nextCounter("other") != 1 || reg.nextCounter("new") != 1 {
		t.Errorf("counters: m %d, other %d, new %d", reg.nextCounter("m"), reg.nextCounter("other"), reg.nextCounter("new"))
	}
	if got := reg.Names(); strings.Join(got, ",") != "m,other" {
		t.Errorf("names: %v", got)
	}
}

func TestModelRules(t *testing.T) {
	for _, tc := range []struct {
		name     string
		events   []Event
		want     string // holders now
		latest   string
		warnings []string // substrings, in order
	}{
		{
			name: "a version may hold several stages",
			events: []Event{
				ev("m@v1.0.0", "2026-01-01T00:00:00Z", ""),
				ev("m#dev#1", "2026-01-02T00:00:00Z", "v1.0.0"),
				ev("m#staging#2", "2026-01-02T00:00:00Z", "v1.0.0"),
			},
			want: "dev=v1.0.0 staging=v1.0.0 production=-", latest: "v1.0.0",
		},
		{
			name: "same second: the counter orders",
			events: []Event{
				ev("m@v1.0.0", "2026-01-01T00:00:00Z", ""),
				ev("m@v2.0.0", "2026-01-01T00:00:00Z", ""),
				ev("m#production#2", "2026-01-01T00:00:00Z", "v2.0.0"),
				ev("m#production#1", "2026-01-01T00:00:00Z", "v1.0.0"),
			},
			want: "dev=- staging=- production=v2.0.0", latest: "v2.0.0",
		},
		{
			name: "unassign empties the stage",
			events: []Event{
				ev("m@v1.0.0", "2026-01-01T00:00:00Z", ""),
				ev("m#staging#1", "2026-01-02T00:00:00Z", "v1.0.0"),
				ev("m#staging!#2", "2026-01-03T00:00:00Z", "v1.0.0"),
			},
			want: "dev=- staging=- production=-", latest: "v1.0.0",
		},
		{
			name: "deprecating the model empties everything",
			events: []Event{
				ev("m@v1.0.0", "2026-01-01T00:00:00Z", ""),
				ev("m#production#1", "2026-01-02T00:00:00Z", "v1.0.0"),
				ev("m@deprecated#2", "2026-01-03T00:00:00Z", "v1.0.0"),
			},
			want: "dev=- staging=- production=-", latest: "",
		},
		{
			name: "a promotion of an unregistered version is ignored",
			events: []Event{
				ev("m@v1.0.0", "2026-01-01T00:00:00Z", ""),
				ev("m#staging#1", "2026-01-02T00:00:00Z", "v9.0.0"),
			},
			want: "dev=- staging=- production=-", latest: "v1.0.0",
			warnings: []string{"m#staging#1 ignored: version v9.0.0 is not registered"},
		},
		{
			name: "a record that points elsewhere than its version is ignored",
			events: []Event{
				ev("m@v1.0.0", "2026-01-01T00:00:00Z", ""),
				func() Event {
					e := ev("m#staging#1", "2026-01-02T00:00:00Z", "v1.0.0")
					e.Commit = commitOf("v2.0.0")
					return e
				}(),
			},
			want: "dev=- staging=- production=-", latest: "v1.0.0",
			warnings: []string{"m#staging#1 ignored: it points to"},
		},
		{
			name: "a deprecated version cannot take a stage",
			events: []Event{
				ev("m@v1.0.0", "2026-01-01T00:00:00Z", ""),
				ev("m@v1.0.0!#1", "2026-01-02T00:00:00Z", ""),
				ev("m#staging#2", "2026-01-03T00:00:00Z", "v1.0.0"),
			},
			want: "dev=- staging=- production=-", latest: "",
			warnings: []string{"m#staging#2 ignored: v1.0.0 is deprecated"},
		},
		{
			name: "a registration whose machine's clock ran ahead still counts",
			events: []Event{
				ev("m@v1.0.0", "2026-06-01T00:00:00Z", ""),
				ev("m#staging#1", "2026-01-02T00:00:00Z", "v1.0.0"),
			},
			want: "dev=- staging=v1.0.0 production=-", latest: "v1.0.0",
		},
		{
			name: "a second registration of a version is ignored",
			events: []Event{
				ev("m@v1.0.0", "2026-01-01T00:00:00Z", ""),
				func() Event {
					e := ev("m@v1.0.0#3", "2026-01-02T00:00:00Z", "")
					e.Commit = commitOf("other")
					return e
				}(),
			},
			want: "dev=- staging=- production=-", latest: "v1.0.0",
			warnings: []string{"m@v1.0.0#3 ignored: v1.0.0 is already registered"},
		},
		{
			name: "GTO's tags: the commit says which version",
			events: []Event{
				gtoEv("m@v1.0.0", "2026-01-01T00:00:00Z", "v1.0.0"),
				gtoEv("m@v1.1.0", "2026-01-01T01:00:00Z", "v1.1.0"),
				gtoEv("m#production", "2026-01-02T00:00:00Z", "v1.0.0"),
				gtoEv("m#staging#4", "2026-01-03T00:00:00Z", "v1.1.0"),
				gtoEv("m#production!#5", "2026-01-04T00:00:00Z", "v1.1.0"), // not the holder: no effect
			},
			want: "dev=- staging=v1.1.0 production=v1.0.0", latest: "v1.1.0",
		},
		{
			name: "GTO's stage on an unregistered commit: the commit is the version",
			events: []Event{
				gtoEv("m#prod#1", "2026-01-02T00:00:00Z", "raw-commit"),
			},
			want: "dev=- staging=- production=- prod=" + commitOf("raw-commit"), latest: "",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewRegistry(tc.events).Model("m", time.Time{}, stages3)
			if err != nil {
				t.Fatal(err)
			}
			if got := holders(m.Stages); got != tc.want {
				t.Errorf("holders %s, want %s", got, tc.want)
			}
			if m.Latest != tc.latest {
				t.Errorf("latest %q, want %q", m.Latest, tc.latest)
			}
			if len(m.Warnings) != len(tc.warnings) {
				t.Fatalf("warnings %q, want %q", m.Warnings, tc.warnings)
			}
			for i, w := range tc.warnings {
				if !strings.Contains(m.Warnings[i], w) {
					t.Errorf("warning %q, want one with %q", m.Warnings[i], w)
				}
			}
		})
	}
}

func TestResolve(t *testing.T) {
	reg := NewRegistry([]Event{
		ev("m@v1.0.0", "2026-01-01T00:00:00Z", ""),
		ev("m@v1.1.0", "2026-01-02T00:00:00Z", ""),
		ev("m@v2.0.0-rc.1", "2026-01-03T00:00:00Z", ""),
		ev("m#production#1", "2026-01-04T00:00:00Z", "v1.0.0"),
		ev("m@v1.1.0!#2", "2026-01-05T00:00:00Z", ""),
	})
	for _, tc := range []struct {
		ref  string
		want string
		err  error
	}{
		{"m", "v2.0.0-rc.1", nil},
		{"m@latest", "v2.0.0-rc.1", nil},
		{"m@v1.0.0", "v1.0.0", nil},
		{"m@1.1.0", "v1.1.0", nil}, // deprecated, but it exists
		{"m#production", "v1.0.0", nil},
		{"m#staging", "", ErrUnknownVersion},
		{"m@v3.0.0", "", ErrUnknownVersion},
		{"nope", "", ErrUnknownModel},
	} {
		ref, err := ParseRef(tc.ref)
		if err != nil {
			t.Fatal(err)
		}
		_, v, err := reg.Resolve(ref, stages3)
		switch {
		case tc.err != nil:
			if !errors.Is(err, tc.err) {
				t.Errorf("Resolve(%s): %v, want %v", tc.ref, err, tc.err)
			}
		case err != nil:
			t.Errorf("Resolve(%s): %v", tc.ref, err)
		case v.Version != tc.want || v.Commit != commitOf(tc.want):
			t.Errorf("Resolve(%s) = %s at %s, want %s", tc.ref, v.Version, v.Commit, tc.want)
		}
	}
}

func TestStagesConfig(t *testing.T) {
	got, err := Stages(nil)
	if err != nil || strings.Join(got, ",") != "dev,staging,production" {
		t.Errorf("default stages: %v, %v", got, err)
	}
}
