package governance

import (
	"errors"
	"testing"
)

func TestParseTagName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want TagName
		bad  bool
	}{
		// What trove writes.
		{in: "churn@v1.2.0", want: TagName{Name: "churn", Action: ActionRegister, Version: "v1.2.0"}},
		{in: "churn#production#3", want: TagName{Name: "churn", Action: ActionAssign, Stage: "production", Counter: 3}},
		{in: "churn@v1.2.0!#4", want: TagName{Name: "churn", Action: ActionDeregister, Version: "v1.2.0", Counter: 4}},
		{in: "churn@deprecated#5", want: TagName{Name: "churn", Action: ActionDeprecate, Counter: 5}},
		// trove's artifact names: upper case, dots and underscores.
		{in: "ResNet_50.onnx@v0.0.1", want: TagName{Name: "ResNet_50.onnx", Action: ActionRegister, Version: "v0.0.1"}},
		// Semantic versions with pre-release and build metadata.
		{in: "m@v1.0.0-rc.1", want: TagName{Name: "m", Action: ActionRegister, Version: "v1.0.0-rc.1"}},
		{in: "m@v1.0.0-alpha.beta+exp.sha.5114f85", want: TagName{Name: "m", Action: ActionRegister, Version: "v1.0.0-alpha.beta+exp.sha.5114f85"}},
		{in: "m@v10.20.30", want: TagName{Name: "m", Action: ActionRegister, Version: "v10.20.30"}},
		// GTO: simple notation (no counter), unassign, counters on a registration,
		// names with a directory, stages with '/', @created.
		{in: "m#prod", want: TagName{Name: "m", Action: ActionAssign, Stage: "prod"}},
		{in: "m#prod!", want: TagName{Name: "m", Action: ActionUnassign, Stage: "prod"}},
		{in: "m#prod!#7", want: TagName{Name: "m", Action: ActionUnassign, Stage: "prod", Counter: 7}},
		{in: "m@v1.0.0#2", want: TagName{Name: "m", Action: ActionRegister, Version: "v1.0.0", Counter: 2}},
		{in: "m@v1.0.0!", want: TagName{Name: "m", Action: ActionDeregister, Version: "v1.0.0"}},
		{in: "m@deprecated", want: TagName{Name: "m", Action: ActionDeprecate}},
		{in: "m@created", want: TagName{Name: "m", Action: ActionCreate}},
		{in: "models/churn=churn@v1.0.0", want: TagName{Name: "models/churn=churn", Action: ActionRegister, Version: "v1.0.0"}},
		{in: "nn/sub#eu/prod#1", want: TagName{Name: "nn/sub", Action: ActionAssign, Stage: "eu/prod", Counter: 1}},
		{in: "m#3", want: TagName{Name: "m", Action: ActionAssign, Stage: "3"}},
		{in: "m#prod#007", want: TagName{Name: "m", Action: ActionAssign, Stage: "prod", Counter: 7}},
		// Not registry tags.
		{in: "v1.0", bad: true},
		{in: "release-2024", bad: true},
		{in: "foo@bar", bad: true},
		{in: "foo@1.0.0", bad: true},    // GTO needs the v
		{in: "foo@v1.0", bad: true},     // not semver
		{in: "foo@v01.0.0", bad: true},  // leading zero
		{in: "foo@v1.0.0-", bad: true},  // empty pre-release
		{in: "foo@latest", bad: true},   // a shortcut, not a tag
		{in: "foo#Prod#1", bad: true},   // stages are lower case
		{in: "foo#prod-#1", bad: true},  // nor end in '-'
		{in: "foo#prod#1#2", bad: true}, // one counter
		{in: "foo#prod#0", bad: true},   // counters start at 1
		{in: "foo@deprecated!", bad: true},
		{in: "foo@created!#1", bad: true},
		{in: "@v1.0.0", bad: true},
		{in: "#prod#1", bad: true},
		{in: "-x@v1.0.0", bad: true},
		{in: "a@b@v1.0.0", bad: true},
		{in: "foo#", bad: true},
		{in: "foo@", bad: true},
		{in: "foo!@v1.0.0", bad: true},
	} {
		got, err := ParseTagName(tc.in)
		if tc.bad {
			if err == nil || !errors.Is(err, ErrNotRegistryTag) {
				t.Errorf("ParseTagName(%q) = %+v, %v; want ErrNotRegistryTag", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseTagName(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		back, err := ParseTagName(got.String())
		if err != nil || back != got {
			t.Errorf("ParseTagName(%q).String() = %q, which parses as %+v, %v", tc.in, got.String(), back, err)
		}
	}
}

func TestTagNameString(t *testing.T) {
	for _, tc := range []struct {
		t    TagName
		want string
	}{
		{TagName{Name: "m", Action: ActionRegister, Version: "v1.0.0"}, "m@v1.0.0"},
		{TagName{Name: "m", Action: ActionAssign, Stage: "staging", Counter: 2}, "m#staging#2"},
		{TagName{Name: "m", Action: ActionDeregister, Version: "v1.0.0", Counter: 3}, "m@v1.0.0!#3"},
		{TagName{Name: "m", Action: ActionDeprecate, Counter: 4}, "m@deprecated#4"},
		{TagName{Name: "m", Action: ActionUnassign, Stage: "dev", Counter: 5}, "m#dev!#5"},
	} {
		if got := tc.t.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.t, got, tc.want)
		}
	}
}

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"v1.2.3", "v1.2.3"},
		{"1.2.3", "v1.2.3"},
		{"v0.0.1-rc.1+b.2", "v0.0.1-rc.1+b.2"},
		{"v1.2", ""},
		{"vv1.2.3", ""},
		{"", ""},
		{"latest", ""},
	} {
		got, err := ParseVersion(tc.in)
		if (err != nil) != (tc.want == "") || got != tc.want {
			t.Errorf("ParseVersion(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if err != nil && !errors.Is(err, ErrBadVersion) {
			t.Errorf("ParseVersion(%q): %v is not ErrBadVersion", tc.in, err)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	// Sorted by precedence (semver.org, item 11).
	order := []string{
		"v1.0.0-alpha", "v1.0.0-alpha.1", "v1.0.0-alpha.beta", "v1.0.0-beta", "v1.0.0-beta.2",
		"v1.0.0-beta.11", "v1.0.0-rc.1", "v1.0.0", "v1.0.1", "v1.1.0", "v1.10.0", "v2.0.0", "v10.0.0",
	}
	for i := range order {
		for j := range order {
			got := CompareVersions(order[i], order[j])
			want := sign(i - j)
			if got != want {
				t.Errorf("CompareVersions(%s, %s) = %d, want %d", order[i], order[j], got, want)
			}
		}
	}
	if CompareVersions("v1.0.0+a", "v1.0.0+b") != 0 {
		t.Error("build metadata must not count")
	}
	if CompareVersions("garbage", "v0.0.1") >= 0 {
		t.Error("an invalid version must sort first")
	}
}

func TestBumpVersion(t *testing.T) {
	for _, tc := range []struct{ v, part, want string }{
		{"", BumpPatch, "v0.0.1"},
		{"", BumpMinor, "v0.1.0"},
		{"", BumpMajor, "v1.0.0"},
		{"v1.2.3", BumpPatch, "v1.2.4"},
		{"v1.2.3", BumpMinor, "v1.3.0"},
		{"v1.2.3", BumpMajor, "v2.0.0"},
		{"v1.2.3-rc.1", BumpPatch, "v1.2.3"},
		{"v1.3.0-rc.1", BumpMinor, "v1.3.0"},
		{"v1.2.3-rc.1", BumpMinor, "v1.3.0"},
		{"v2.0.0-rc.1", BumpMajor, "v2.0.0"},
		{"v1.2.3+build", BumpPatch, "v1.2.4"},
	} {
		got, err := BumpVersion(tc.v, tc.part)
		if err != nil || got != tc.want {
			t.Errorf("BumpVersion(%q, %s) = %q, %v; want %q", tc.v, tc.part, got, err, tc.want)
		}
	}
	if _, err := BumpVersion("v1.0.0", "huge"); err == nil {
		t.Error("an unknown part must be an error")
	}
}

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Ref
		bad  bool
	}{
		{in: "churn", want: Ref{Name: "churn"}},
		{in: "churn@v1.0.0", want: Ref{Name: "churn", Version: "v1.0.0"}},
		{in: "churn@1.0.0", want: Ref{Name: "churn", Version: "v1.0.0"}},
		{in: "churn@latest", want: Ref{Name: "churn"}},
		{in: "churn#production", want: Ref{Name: "churn", Stage: "production"}},
		{in: "churn@v1", bad: true},
		{in: "churn#Prod", bad: true},
		{in: "data/x@v1.0.0", bad: true},
		{in: "@v1.0.0", bad: true},
	} {
		got, err := ParseRef(tc.in)
		if tc.bad {
			if !errors.Is(err, ErrBadRef) {
				t.Errorf("ParseRef(%q) = %+v, %v; want ErrBadRef", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestValidStage(t *testing.T) {
	for s, want := range map[string]bool{
		"dev": true, "staging": true, "production": true, "pre-prod": true, "eu2": true,
		"": false, "Prod": false, "pre_prod": false, "-x": false, "x-": false, "eu/prod": false,
	} {
		if got := ValidStage(s); got != want {
			t.Errorf("ValidStage(%q) = %v, want %v", s, got, want)
		}
	}
}
