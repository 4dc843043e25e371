package manifest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode: Decode never panics; every error matches one of the three sentinels;
// and whatever it accepts is the canonical encoding of what it returns, so there
// is exactly one valid encoding of each manifest.
func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.trove"))
	if err != nil {
		f.Fatal(err)
	}
	if len(files) == 0 {
		f.Fatal("no golden files to seed the corpus")
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("{}\n"))
	f.Add([]byte(`{"trove": 2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			if m != nil {
				t.Fatal("Decode returned a manifest and an error")
			}
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrNewerFormat) && !errors.Is(err, ErrNotCanonical) {
				t.Fatalf("error matches no sentinel: %v", err)
			}
			return
		}
		out, err := Encode(m)
		if err != nil {
			t.Fatalf("Decode accepted what Encode refuses: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("Decode accepted a non-canonical encoding:\n%q\nEncode gives\n%q", b, out)
		}
	})
}
