package governance

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseParams(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want map[string]string
		err  string // substring of the error; "" for success
	}{
		{name: "yaml", in: "lr: 1e-3\nepochs: 3\nmodel:\n  layers: [64, 32]\n  act: relu\n  dropout: null\n",
			want: map[string]string{"lr": "1e-3", "epochs": "3", "model.layers.0": "64", "model.layers.1": "32", "model.act": "relu", "model.dropout": "null"}},
		{name: "json", in: `{"lr": 0.001, "opt": {"name": "adam", "betas": [0.9, 0.999]}, "flag": true}`,
			want: map[string]string{"lr": "0.001", "opt.name": "adam", "opt.betas.0": "0.9", "opt.betas.1": "0.999", "flag": "true"}},
		{name: "empty containers", in: "a: {}\nb: []\n", want: map[string]string{"a": "{}", "b": "[]"}},
		{name: "list of mappings", in: "layers:\n  - {units: 8}\n  - {units: 4}\n", want: map[string]string{"layers.0.units": "8", "layers.1.units": "4"}},
		{name: "quoted keeps text", in: "seed: \"0042\"\nname: 'x y'\n", want: map[string]string{"seed": "0042", "name": "x y"}},
		{name: "anchors", in: "base: &b 3\nother: *b\n", want: map[string]string{"base": "3", "other": "3"}},
		{name: "empty file", in: "", want: map[string]string{}},
		{name: "null document", in: "~\n", want: map[string]string{}},
		{name: "top level list", in: "- 1\n- 2\n", err: "top level must be a mapping"},
		{name: "top level scalar", in: "3\n", err: "top level must be a mapping"},
		{name: "collision", in: "a.b: 1\na:\n  b: 2\n", err: `"a.b" is given twice`},
		{name: "merge keys", in: "x: &x {a: 1}\ny:\n  <<: *x\n", err: "merge keys"},
		{name: "syntax", in: "a: [1, 2\n", err: "invalid parameters file"},
		{name: "two documents", in: "a: 1\n---\nb: 2\n", err: "more than one"},
		{name: "duplicate key", in: "a: 1\na: 2\n", err: `"a" is given twice`},
	} {
		got, err := ParseParams([]byte(tc.in))
		if tc.err != "" {
			if !errors.Is(err, ErrParams) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: ParseParams = %v, %v; want an error with %q", tc.name, got, err, tc.err)
			}
			continue
		}
		if err != nil || !maps.Equal(got, tc.want) {
			t.Errorf("%s: ParseParams = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want map[string]float64
		err  string
	}{
		{name: "flat", in: `{"accuracy": 0.91, "loss": 0.3}`, want: map[string]float64{"accuracy": 0.91, "loss": 0.3}},
		{name: "nested", in: `{"eval": {"acc": 0.9, "per_class": {"cat": 0.8}}, "n": 100}`,
			want: map[string]float64{"eval.acc": 0.9, "eval.per_class.cat": 0.8, "n": 100}},
		{name: "exponents and negatives", in: `{"a": -1.5e-3, "b": 1E2}`, want: map[string]float64{"a": -1.5e-3, "b": 100}},
		{name: "empty object", in: `{}`, want: map[string]float64{}},
		{name: "NaN", in: "{\n  \"loss\": NaN\n}", err: "line 2: NaN is not a finite number"},
		{name: "Infinity", in: `{"loss": Infinity}`, err: "Infinity is not a finite number"},
		{name: "-Infinity", in: `{"loss": -Infinity}`, err: "-Infinity is not a finite number"},
		{name: "overflow", in: `{"loss": 1e999}`, err: `metric "loss" is 1e999, which is not a finite number`},
		{name: "string", in: `{"acc": "0.9"}`, err: `metric "acc" is a string`},
		{name: "bool", in: `{"ok": true}`, err: `metric "ok" is a boolean`},
		{name: "list", in: `{"curve": [1, 2]}`, err: `metric "curve" is a list`},
		{name: "null", in: `{"eval": {"acc": null}}`, err: `metric "eval.acc" is null`},
		{name: "collision", in: `{"a.b": 1, "a": {"b": 2}}`, err: `"a.b" is given twice`},
		{name: "empty name", in: `{"": 1}`, err: "empty name"},
		{name: "not an object", in: `[1, 2]`, err: "want a JSON object"},
		{name: "trailing", in: `{"a": 1} {"b": 2}`, err: "data after"},
		{name: "truncated", in: `{"a": 1`, err: "truncated"},
		{name: "empty", in: ``, err: "empty"},
		{name: "syntax", in: "{\n\"a\": 1,\n}", err: "line 3"},
	} {
		got, err := ParseMetrics([]byte(tc.in))
		if tc.err != "" {
			if !errors.Is(err, ErrMetrics) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: ParseMetrics = %v, %v; want ErrMetrics with %q", tc.name, got, err, tc.err)
			}
			continue
		}
		if err != nil || !maps.Equal(got, tc.want) {
			t.Errorf("%s: ParseMetrics = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestParseInputSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want InputSpec
		bad  bool
	}{
		{in: "data/train.csv", want: InputSpec{Path: "data/train.csv"}},
		{in: "train=data/train.csv", want: InputSpec{Role: "train", Path: "data/train.csv"}},
		{in: "eval_set=x", want: InputSpec{Role: "eval_set", Path: "x"}},
		{in: "data/a=b.csv", want: InputSpec{Path: "data/a=b.csv"}}, // not a role before '='
		{in: "Train=x", want: InputSpec{Path: "Train=x"}},
		{in: "=k=v.csv", want: InputSpec{Path: "k=v.csv"}},
		{in: "train=", bad: true},
		{in: "", bad: true},
	} {
		got, err := ParseInputSpec(tc.in)
		if tc.bad {
			if !errors.Is(err, ErrBadInput) {
				t.Errorf("ParseInputSpec(%q) = %+v, %v; want ErrBadInput", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseInputSpec(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// fakeRunner answers the version probes from a table.
type fakeRunner struct {
	out  map[string]string // "go version" -> output
	hang map[string]bool
}

func (f fakeRunner) Run(ctx context.Context, c Cmd) (int, error) {
	key := strings.Join(c.Args, " ")
	if f.hang[key] {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	out, ok := f.out[key]
	if !ok {
		return 0, ErrNotStarted
	}
	io.WriteString(c.Stdout, out)
	return 0, nil
}

func TestCaptureEnvironment(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.sum"), []byte("x v1 h1:abc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "uv.lock"), 0o755); err != nil { // not a file: skipped
		t.Fatal(err)
	}
	w := World{
		Now: func() time.Time { return time.Unix(0, 0) },
		Getenv: func(k string) string {
			return map[string]string{"CUDA_VISIBLE_DEVICES": "0,1", "AWS_SECRET_ACCESS_KEY": "nope", "HOME": "/home/x"}[k]
		},
		Runner: fakeRunner{out: map[string]string{"go version": "go version go1.26.8 linux/amd64\n"}},
		ReadFile: func(p string) ([]byte, error) {
			if p != "/proc/cpuinfo" {
				return nil, os.ErrNotExist
			}
			return []byte("processor\t: 0\nmodel name\t: Fancy  CPU @ 3.00GHz\n\nprocessor\t: 1\nmodel name\t: Fancy CPU @ 3.00GHz\n"), nil
		},
	}
	env := CaptureEnvironment(context.Background(), w, root, "v9")
	for k, want := range map[string]string{
		"go": "go1.26.8", "cpu": "Fancy CPU @ 3.00GHz", "env.CUDA_VISIBLE_DEVICES": "0,1", "trove": "v9",
		"lockfile.go.sum": "blake3:",
	} {
		if !strings.HasPrefix(env[k], want) {
			t.Errorf("env[%s] = %q, want %q", k, env[k], want)
		}
	}
	for _, k := range []string{"python", "env.AWS_SECRET_ACCESS_KEY", "env.HOME", "lockfile.uv.lock"} {
		if v, ok := env[k]; ok {
			t.Errorf("env[%s] = %q, want it absent", k, v)
		}
	}
	if env["os"] == "" || env["arch"] == "" || env["cpus"] == "" {
		t.Errorf("no os/arch/cpus: %v", env)
	}

	// A probe that hangs is cut off; the rest is still there.
	w.Runner = fakeRunner{hang: map[string]bool{"python3 --version": true}, out: map[string]string{"go version": "go version go1.2 x\n"}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as if the timeout had passed
	env = CaptureEnvironment(ctx, w, root, "")
	if _, ok := env["python"]; ok {
		t.Errorf("python probe should have been cut off: %v", env)
	}
	var buf bytes.Buffer
	buf.WriteString(env["os"])
	if buf.Len() == 0 {
		t.Error("environment lost with a cancelled probe")
	}
}
