package objects

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestPackSink: what goes in in pieces of any size comes out in the file in
// order, and the name is the BLAKE3 of all of it; a failing file is reported
// (by Write or close), and abort returns without waiting for more input.
func TestPackSink(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "p"))
	if err != nil {
		t.Fatal(err)
	}
	s := newPackSink(f)
	rng := rand.New(rand.NewPCG(3, 4))
	var all bytes.Buffer
	for all.Len() < 5*sinkSegment+123 {
		b := make([]byte, rng.IntN(3*sinkSegment/2))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if _, err := s.Write(b); err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	id, err := s.close()
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, _ := os.ReadFile(filepath.Join(dir, "p"))
	if !bytes.Equal(got, all.Bytes()) || id != Hash(all.Bytes()) {
		t.Fatalf("sink wrote %d bytes (want %d), name %v", len(got), all.Len(), id)
	}

	// A file that cannot be written: the error comes back.
	g, err := os.Open(filepath.Join(dir, "p")) // read-only
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	s = newPackSink(g)
	var werr error
	for range 4 * sinkDepth {
		if _, werr = s.Write(make([]byte, sinkSegment)); werr != nil {
			break
		}
	}
	if _, cerr := s.close(); cerr == nil {
		t.Fatal("close after failed writes: no error")
	}

	// Abort with data still queued.
	h, _ := os.Create(filepath.Join(dir, "q"))
	defer h.Close()
	s = newPackSink(h)
	s.Write(make([]byte, 3*sinkSegment))
	s.abort()
	s.abort() // twice is harmless
}
