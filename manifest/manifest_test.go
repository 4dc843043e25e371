package manifest

import (
	"bytes"
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/trove-dev/trove/objects"
)

func readGolden(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(goldenPath(name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDecodeRejects: every way a manifest can be wrong, and the sentinel each gives.
// Cases are edits of a golden file; each edit must apply, so a golden file that
// drifts cannot make a case vacuous.
func TestDecodeRejects(t *testing.T) {
	file, model, dataset := readGolden(t, "file"), readGolden(t, "model"), readGolden(t, "dataset")
	const (
		fileDigest = `"digest": "blake3:3826ba093504df62ebc7067f3ea58291e4473ecffde0680ce75db38b5abba450"`
		hexDigest  = `3826ba093504df62ebc7067f3ea58291e4473ecffde0680ce75db38b5abba450`
	)
	// edit replaces old (which must occur exactly once) by new in base.
	edit := func(base, old, new string) func(t *testing.T) string {
		return func(t *testing.T) string {
			if n := strings.Count(base, old); n != 1 {
				t.Fatalf("test edit: %q occurs %d times", old, n)
			}
			return strings.Replace(base, old, new, 1)
		}
	}
	raw := func(s string) func(*testing.T) string { return func(*testing.T) string { return s } }
	tests := []struct {
		name  string
		input func(t *testing.T) string
		want  error
	}{
		// Format version.
		{"newer format", edit(file, `"trove": 1,`, `"trove": 2,`), ErrNewerFormat},
		{"newer format with unknown fields", edit(file, `"trove": 1,`, `"trove": 2, "wormhole": {"x": [1]},`), ErrNewerFormat},
		{"newer format hugely", edit(file, `"trove": 1,`, `"trove": 1000000,`), ErrNewerFormat},
		{"format 0", edit(file, `"trove": 1,`, `"trove": 0,`), ErrInvalid},
		{"negative format", edit(file, `"trove": 1,`, `"trove": -1,`), ErrInvalid},
		{"missing format", edit(file, "  \"trove\": 1,\n", ""), ErrInvalid},
		{"format as a string", edit(file, `"trove": 1,`, `"trove": "1",`), ErrInvalid},
		{"format as a float", edit(file, `"trove": 1,`, `"trove": 1.0,`), ErrInvalid},
		{"format null", edit(file, `"trove": 1,`, `"trove": null,`), ErrInvalid},

		// JSON structure.
		{"empty input", raw(""), ErrInvalid},
		{"only whitespace", raw("\n"), ErrInvalid},
		{"null", raw("null\n"), ErrInvalid},
		{"array", raw("[]\n"), ErrInvalid},
		{"string", raw("\"trove\"\n"), ErrInvalid},
		{"empty object", raw("{}\n"), ErrInvalid},
		{"unknown field", edit(file, `"trove": 1,`, `"trove": 1, "x": 1,`), ErrInvalid},
		{"unknown nested field", edit(file, `"avg": 65536,`, `"avg": 65536, "window": 64,`), ErrInvalid},
		{"trailing garbage", func(*testing.T) string { return file + "garbage" }, ErrInvalid},
		{"second JSON object", func(*testing.T) string { return file + "{}\n" }, ErrInvalid},
		{"second copy", func(*testing.T) string { return file + file }, ErrInvalid},
		{"truncated", func(*testing.T) string { return file[:len(file)/2] }, ErrInvalid},
		{"byte order mark", func(*testing.T) string { return "\xef\xbb\xbf" + file }, ErrInvalid},
		{"comment", func(*testing.T) string { return "// manifest\n" + file }, ErrInvalid},
		{"size as float", edit(file, `"size": 13,`, `"size": 13.0,`), ErrInvalid},
		{"size as exponent", edit(file, `"size": 13,`, `"size": 1.3e1,`), ErrInvalid},
		{"size overflows int64", edit(file, `"size": 13,`, `"size": 99999999999999999999,`), ErrInvalid},
		{"files as string", edit(file, `"files": 1,`, `"files": "1",`), ErrInvalid},

		// Canonical form: content that is valid but bytes that are not the one encoding.
		{"keys out of order", edit(file, "  \"files\": 1,\n  \"kind\": \"artifact\",\n", "  \"kind\": \"artifact\",\n  \"files\": 1,\n"), ErrNotCanonical},
		{"four-space indent", func(*testing.T) string { return strings.ReplaceAll(file, "\n  ", "\n    ") }, ErrNotCanonical},
		{"tab indent", func(*testing.T) string { return strings.ReplaceAll(file, "\n  ", "\n\t") }, ErrNotCanonical},
		{"compact", func(*testing.T) string {
			var b bytes.Buffer
			for _, l := range strings.Split(file, "\n") {
				b.WriteString(strings.TrimSpace(l))
			}
			return b.String() + "\n"
		}, ErrNotCanonical},
		{"no space after colon", edit(file, `"trove": 1,`, `"trove":1,`), ErrNotCanonical},
		{"space before comma", edit(file, `"trove": 1,`, `"trove": 1 ,`), ErrNotCanonical},
		{"trailing space", edit(file, `"trove": 1,`, `"trove": 1, `), ErrNotCanonical},
		{"missing trailing newline", func(*testing.T) string { return strings.TrimSuffix(file, "\n") }, ErrNotCanonical},
		{"two trailing newlines", func(*testing.T) string { return file + "\n" }, ErrNotCanonical},
		{"leading newline", func(*testing.T) string { return "\n" + file }, ErrNotCanonical},
		{"CRLF line endings", func(*testing.T) string { return strings.ReplaceAll(file, "\n", "\r\n") }, ErrNotCanonical},
		{"escaped <", edit(dataset, `Labelled <cats>`, `Labelled \u003ccats>`), ErrNotCanonical},
		{"escaped &", edit(dataset, `> & dogs`, `> \u0026 dogs`), ErrNotCanonical},
		{"escaped é", edit(dataset, `café`, `caf\u00e9`), ErrNotCanonical},
		{"escaped slash", edit(model, `example.com/ml/cats.git`, `example.com\/ml\/cats.git`), ErrNotCanonical},
		{"escaped slash in path", edit(dataset, `"path": "train.csv"`, `"path": "train.csv\/"`), ErrInvalid}, // "train.csv/" is not a valid path
		{"escaped letter", edit(dataset, `"path": "train.csv"`, `"path": "tr\u0061in.csv"`), ErrNotCanonical},
		{"invalid UTF-8", edit(dataset, `café`, "caf\xe9"), ErrNotCanonical},
		{"duplicate key, same value", edit(file, `"trove": 1,`, `"trove": 1, "trove": 1,`), ErrNotCanonical},
		{"duplicate key, different value", edit(file, `"name": "hello.txt",`, `"name": "evil", "name": "hello.txt",`), ErrNotCanonical},
		{"duplicate key in a map", edit(dataset, `"license": "CC-BY-4.0",`, `"license": "proprietary", "license": "CC-BY-4.0",`), ErrNotCanonical},
		{"key in another case", edit(file, `"name": "hello.txt"`, `"Name": "hello.txt"`), ErrNotCanonical},
		{"empty meta present", edit(file, "  \"name\":", "  \"meta\": {},\n  \"name\":"), ErrNotCanonical},
		{"null lineage present", edit(file, "  \"name\":", "  \"lineage\": null,\n  \"name\":"), ErrNotCanonical},
		{"empty array present", edit(file, "  \"name\":", "  \"lineage\": {\n    \"command\": []\n  },\n  \"name\":"), ErrNotCanonical},
		{"map keys out of order", edit(dataset, "    \"classification\": \"internal\",\n    \"description\": \"Labelled <cats> & dogs; café edition\",\n",
			"    \"description\": \"Labelled <cats> & dogs; café edition\",\n    \"classification\": \"internal\",\n"), ErrNotCanonical},
		{"inputs out of order", func(t *testing.T) string {
			i := strings.Index(model, "      {\n        \"digest\"")
			j := strings.Index(model[i+1:], "      {\n        \"digest\"") + i + 1
			k := strings.Index(model, "    ],\n    \"params\"")
			first, second := model[i:j], model[j:k]
			// first ends in "},\n", second in "}\n": swap and fix the commas.
			return model[:i] + strings.TrimSuffix(second, "\n") + ",\n" + strings.TrimSuffix(first, ",\n") + "\n" + model[k:]
		}, ErrNotCanonical},
		{"float with trailing zero", edit(model, `"accuracy": 0.9375,`, `"accuracy": 0.93750,`), ErrNotCanonical},
		{"exponent spelled out", edit(model, `"params": 1.2e+21`, `"params": 1200000000000000000000`), ErrNotCanonical},
		{"upper-case exponent", edit(model, `"loss": 1.5e-7,`, `"loss": 1.5E-7,`), ErrNotCanonical},
		{"integer metric with .0", edit(model, `"p95_latency_ms": 38.5,`, `"p95_latency_ms": 38.50,`), ErrNotCanonical},

		// Ids.
		{"digest upper-case hex", edit(file, hexDigest, strings.ToUpper(hexDigest)), ErrInvalid},
		{"digest wrong prefix", edit(file, fileDigest, strings.Replace(fileDigest, "blake3:", "sha256:", 1)), ErrInvalid},
		{"digest no prefix", edit(file, fileDigest, strings.Replace(fileDigest, "blake3:", "", 1)), ErrInvalid},
		{"digest upper-case prefix", edit(file, fileDigest, strings.Replace(fileDigest, "blake3:", "BLAKE3:", 1)), ErrInvalid},
		{"digest short", edit(file, hexDigest, hexDigest[:63]), ErrInvalid},
		{"digest long", edit(file, hexDigest, hexDigest+"0"), ErrInvalid},
		{"digest not hex", edit(file, hexDigest, "g"+hexDigest[1:]), ErrInvalid},
		{"digest empty", edit(file, fileDigest, `"digest": ""`), ErrInvalid},
		{"digest zero", edit(file, hexDigest, strings.Repeat("0", 64)), ErrInvalid},
		{"digest a number", edit(file, fileDigest, `"digest": 1`), ErrInvalid},
		{"missing object", edit(file, "  \"object\": \"blake3:2f74ed9be6f6264436f6d175399a194e9e2b64fb6f8a19a3aa02c47d6ae4526b\",\n", ""), ErrInvalid},
		{"input digest bad", edit(model, `"digest": "blake3:d5b3`, `"digest": "blake3:D5b3`), ErrInvalid},

		// Field constraints.
		{"kind weights", edit(file, `"kind": "artifact"`, `"kind": "weights"`), ErrInvalid},
		{"kind upper-case", edit(file, `"kind": "artifact"`, `"kind": "Artifact"`), ErrInvalid},
		{"type link", edit(file, `"type": "file"`, `"type": "link"`), ErrInvalid},
		{"type missing", edit(file, ",\n  \"type\": \"file\"\n", "\n"), ErrInvalid},
		{"files=2 for a file", edit(file, `"files": 1,`, `"files": 2,`), ErrInvalid},
		{"files=0 for a file", edit(file, `"files": 1,`, `"files": 0,`), ErrInvalid},
		{"negative files for a dir", edit(readGolden(t, "dir"), `"files": 5,`, `"files": -5,`), ErrInvalid},
		{"negative size", edit(file, `"size": 13,`, `"size": -13,`), ErrInvalid},
		{"name with slash", edit(file, `"name": "hello.txt"`, `"name": "a/b"`), ErrInvalid},
		{"name with space", edit(file, `"name": "hello.txt"`, `"name": "hello world"`), ErrInvalid},
		{"name empty", edit(file, `"name": "hello.txt"`, `"name": ""`), ErrInvalid},
		{"name starting with dot", edit(file, `"name": "hello.txt"`, `"name": ".hello"`), ErrInvalid},
		{"name too long", edit(file, `"name": "hello.txt"`, `"name": "`+strings.Repeat("n", 129)+`"`), ErrInvalid},
		{"path with slash", edit(file, `"path": "hello.txt"`, `"path": "a/hello.txt"`), ErrInvalid},
		{"path dot-dot", edit(file, `"path": "hello.txt"`, `"path": ".."`), ErrInvalid},
		{"path escaping", edit(file, `"path": "hello.txt"`, `"path": "../../etc/passwd"`), ErrInvalid},
		{"path absolute", edit(file, `"path": "hello.txt"`, `"path": "/etc/passwd"`), ErrInvalid},
		{"path dot", edit(file, `"path": "hello.txt"`, `"path": "."`), ErrInvalid},
		{"path empty", edit(file, `"path": "hello.txt"`, `"path": ""`), ErrInvalid},
		{"path with backslash", edit(file, `"path": "hello.txt"`, `"path": "..\\hello.txt"`), ErrInvalid},
		{"path with newline", edit(file, `"path": "hello.txt"`, `"path": "hello\ntxt"`), ErrInvalid},
		{"path with NUL", edit(file, `"path": "hello.txt"`, `"path": "hello\u0000.txt"`), ErrInvalid},
		{"metric 1e999", edit(model, `"f1": 0.91,`, `"f1": 1e999,`), ErrInvalid},
		{"metric -1e999", edit(model, `"f1": 0.91,`, `"f1": -1e999,`), ErrInvalid},
		{"metric NaN", edit(model, `"f1": 0.91,`, `"f1": NaN,`), ErrInvalid},
		{"metric string", edit(model, `"f1": 0.91,`, `"f1": "0.91",`), ErrInvalid},
		{"metric empty name", edit(model, `"f1": 0.91,`, `"": 0.91,`), ErrInvalid},
		{"meta key upper-case", edit(dataset, `"owner": "data-team@example.com"`, `"Owner": "data-team@example.com"`), ErrInvalid},
		{"meta key with space", edit(dataset, `"owner": "data-team@example.com"`, `"the owner": "data-team@example.com"`), ErrInvalid},
		{"meta value not a string", edit(dataset, `"owner": "data-team@example.com"`, `"owner": 7`), ErrInvalid},
		{"chunker unknown", edit(file, `"algorithm": "fastcdc-gear-v1"`, `"algorithm": "rabin"`), ErrInvalid},
		{"chunker v2", edit(file, `"algorithm": "fastcdc-gear-v1"`, `"algorithm": "fastcdc-gear-v2"`), ErrInvalid},
		{"chunker min > avg", edit(file, `"min": 16384`, `"min": 131072`), ErrInvalid},
		{"chunker avg not a power of two", edit(file, `"avg": 65536,`, `"avg": 65535,`), ErrInvalid},
		{"chunker max too large", edit(file, `"max": 262144,`, `"max": 134217728,`), ErrInvalid},
		{"chunker min too small", edit(file, `"min": 16384`, `"min": 1`), ErrInvalid},
		{"chunker missing", edit(file, "  \"chunker\": {\n    \"algorithm\": \"fastcdc-gear-v1\",\n    \"avg\": 65536,\n    \"max\": 262144,\n    \"min\": 16384\n  },\n", ""), ErrInvalid},
		{"lineage input without path", edit(model, `"path": "data/eval.csv",`, `"path": "",`), ErrInvalid},
		{"lineage input path escaping", edit(model, `"path": "data/eval.csv",`, `"path": "../eval.csv",`), ErrInvalid},
		{"lineage input kind", edit(model, "\"kind\": \"dataset\",\n        \"name\": \"eval\"", "\"kind\": \"weights\",\n        \"name\": \"eval\""), ErrInvalid},
		{"lineage input name", edit(model, `"name": "eval",`, `"name": "my eval",`), ErrInvalid},
		{"lineage commit short", edit(model, `"commit": "0123456789abcdef0123456789abcdef01234567"`, `"commit": "0123456"`), ErrInvalid},
		{"lineage commit upper-case", edit(model, `"commit": "0123456789abcdef0123456789abcdef01234567"`, `"commit": "0123456789ABCDEF0123456789abcdef01234567"`), ErrInvalid},
		{"lineage time not RFC 3339", edit(model, `"started": "2025-03-01T09:00:00Z"`, `"started": "2025-03-01 09:00:00"`), ErrInvalid},
		{"lineage time not UTC", edit(model, `"started": "2025-03-01T09:00:00Z"`, `"started": "2025-03-01T10:00:00+01:00"`), ErrInvalid},
		{"lineage command not strings", edit(model, `"--epochs",`, `3,`), ErrInvalid},
		{"profile negative rows", edit(dataset, `"rows": 3`, `"rows": -3`), ErrInvalid},
		{"profile negative nulls", edit(dataset, `"nulls": 1,`, `"nulls": -1,`), ErrInvalid},
		{"profile column without name", edit(dataset, `"name": "label",`, `"name": "",`), ErrInvalid},
		{"profile without format", edit(dataset, `"format": "csv",`, `"format": "",`), ErrInvalid},

		// Size.
		{"larger than 4 MiB", func(*testing.T) string {
			return strings.Replace(dataset, `café edition`, `café edition`+strings.Repeat("x", MaxManifestSize), 1)
		}, ErrInvalid},
		{"4 MiB of whitespace", func(*testing.T) string { return file + strings.Repeat(" ", MaxManifestSize) }, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.input(t)
			m, err := Decode([]byte(in))
			if err == nil {
				t.Fatalf("Decode accepted it: %+v", m)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode error %q does not match %q", err, tc.want)
			}
			for _, other := range []error{ErrInvalid, ErrNewerFormat, ErrNotCanonical} {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("error %q also matches %q", err, other)
				}
			}
			if m != nil {
				t.Errorf("Decode returned a manifest with its error")
			}
		})
	}
}

func TestDecodeNewerFormatMessage(t *testing.T) {
	in := strings.Replace(readGolden(t, "file"), `"trove": 1,`, `"trove": 7, "future": true,`, 1)
	_, err := Decode([]byte(in))
	if !errors.Is(err, ErrNewerFormat) || !strings.Contains(err.Error(), "7") || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("want an upgrade message naming format 7, got %v", err)
	}
}

func TestDecodeSyntaxErrorHasLine(t *testing.T) {
	in := strings.Replace(readGolden(t, "file"), `"size": 13,`, `"size": 13,,`, 1)
	_, err := Decode([]byte(in))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "line 14") {
		t.Fatalf("want a syntax error on line 14, got %v", err)
	}
}

func TestDecodeAtSizeLimit(t *testing.T) {
	// Exactly MaxManifestSize bytes is allowed; one more is not.
	base := readGolden(t, "dataset")
	pad := MaxManifestSize - len(base)
	in := strings.Replace(base, `café edition`, `café edition`+strings.Repeat("x", pad), 1)
	if len(in) != MaxManifestSize {
		t.Fatalf("built %d bytes", len(in))
	}
	if _, err := Decode([]byte(in)); err != nil {
		t.Fatalf("a manifest of exactly %d bytes: %v", MaxManifestSize, err)
	}
	in = strings.Replace(in, `café edition`, `café editionx`, 1)
	if _, err := Decode([]byte(in)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a manifest of %d bytes: %v", len(in), err)
	}
}

// TestEncodeValidates: Encode refuses what Decode would refuse.
func TestEncodeValidates(t *testing.T) {
	base := func() *Manifest { return goldenManifests(t)["model"] }
	tests := []struct {
		name string
		edit func(m *Manifest)
		want error
	}{
		{"newer", func(m *Manifest) { m.Trove = 2 }, ErrNewerFormat},
		{"zero", func(m *Manifest) { m.Trove = 0 }, ErrInvalid},
		{"NaN metric", func(m *Manifest) { m.Metrics["f1"] = math.NaN() }, ErrInvalid},
		{"Inf metric", func(m *Manifest) { m.Metrics["f1"] = math.Inf(1) }, ErrInvalid},
		{"zero digest", func(m *Manifest) { m.Digest = objects.ID{} }, ErrInvalid},
		{"zero object", func(m *Manifest) { m.Object = objects.ID{} }, ErrInvalid},
		{"zero input digest", func(m *Manifest) { m.Lineage.Inputs[0].Digest = objects.ID{} }, ErrInvalid},
		{"chunker params", func(m *Manifest) { m.Chunker.Max = m.Chunker.Avg }, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.edit(m)
			if _, err := Encode(m); !errors.Is(err, tc.want) {
				t.Fatalf("Encode: got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestDecodeAccepts: valid variations round-trip, including the edges of each rule.
func TestDecodeAccepts(t *testing.T) {
	tests := []struct {
		name string
		edit func(m *Manifest)
	}{
		{"empty directory", func(m *Manifest) {
			m.Type, m.Files, m.Size, m.Digest = TypeDir, 0, 0, objects.TreeDigest(nil)
		}},
		{"longest name", func(m *Manifest) { m.Name = strings.Repeat("n", 128) }},
		{"name with dots", func(m *Manifest) { m.Name = "v1.2.3_final-ish" }},
		{"path with spaces and unicode", func(m *Manifest) { m.Path = "my data é (1).csv" }},
		{"path with glob characters", func(m *Manifest) { m.Path = "data[1]*?.csv" }},
		{"negative zero metric", func(m *Manifest) { m.Metrics = map[string]float64{"delta": math.Copysign(0, -1)} }},
		{"tiny and huge metrics", func(m *Manifest) {
			m.Metrics = map[string]float64{"a": 5e-324, "b": math.MaxFloat64, "c": -1e-7, "d": 1e21, "e": 123456789012345680000}
		}},
		{"control characters", func(m *Manifest) {
			m.Meta = map[string]string{"description": "tab\there\nnew line \x01 \x7f \u2028 \u2029 \"quoted\" back\\slash </script>"}
		}},
		{"empty lineage", func(m *Manifest) { m.Lineage = &Lineage{} }},
		{"dirty code without remote", func(m *Manifest) {
			m.Lineage = &Lineage{Code: &Code{Commit: strings.Repeat("ab", 32), Dirty: true}}
		}},
		{"empty profile", func(m *Manifest) { m.Profile = &Profile{Format: "parquet"} }},
		{"meta key edges", func(m *Manifest) { m.Meta = map[string]string{"a": "", "x.y-z_0": "v"} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := goldenManifests(t)["file"]
			tc.edit(m)
			b, err := Encode(m)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v\n%s", err, b)
			}
			again, err := Encode(got)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("round trip: %v\n%s\n%s", err, b, again)
			}
		})
	}
}

// TestStringEscapes pins how strings are written, as SPEC.md states it.
func TestStringEscapes(t *testing.T) {
	m := goldenManifests(t)["file"]
	m.Meta = map[string]string{"description": "\"\\/\b\f\n\r\t\x01\x1f\x7f<>&é\u2028\u2029😀"}
	b, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `"description": "\"\\/\b\f\n\r\t\u0001\u001f` + "\x7f" + `<>&é\u2028\u2029😀"`
	if !strings.Contains(string(b), want) {
		t.Fatalf("got\n%s\nwant it to contain\n%s", b, want)
	}
	// Invalid UTF-8 cannot be represented: Encode writes U+FFFD, so the decoded
	// manifest differs from the one given, and Decode of hand-written invalid
	// UTF-8 fails the canonical check.
	m.Meta = map[string]string{"description": "caf\xe9"}
	b, err = Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"caf\ufffd"`) {
		t.Fatalf("invalid UTF-8 written as %s", b)
	}
}

func TestValidName(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, "A9": true, "resnet-50_v1.2": true, strings.Repeat("x", 128): true,
		"": false, ".a": false, "-a": false, "_a": false, "a b": false, "a/b": false, "é": false,
		strings.Repeat("x", 129): false,
	} {
		if got := ValidName(s); got != want {
			t.Errorf("ValidName(%q) = %v", s, got)
		}
	}
	for s, want := range map[string]bool{
		"owner": true, "x": true, "a.b-c_d0": true, strings.Repeat("k", 64): true,
		"": false, "Owner": false, "0a": false, "a b": false, strings.Repeat("k", 65): false,
	} {
		if got := ValidMetaKey(s); got != want {
			t.Errorf("ValidMetaKey(%q) = %v", s, got)
		}
	}
}
