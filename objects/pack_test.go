package objects_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/trove-dev/trove/objects"
)

// Pack layout constants, restated from the format comment in pack.go so that a
// change to the format breaks these tests.
const (
	packHeaderLen  = 8
	packFooterLen  = 20
	packEntryLen   = 44
	idxHeaderLen   = 8 + 32 + 4
	idxChecksumLen = 32
)

// testPack is a pack built by PackWriter, with what went into it.
type testPack struct {
	bytes   []byte
	id      ID
	entries []objects.IndexEntry
	chunks  map[ID][]byte
}

// ID is a short name for objects.ID in tests.
type ID = objects.ID

func buildPack(t testing.TB, chunks ...[]byte) testPack {
	t.Helper()
	var buf bytes.Buffer
	pw, err := objects.NewPackWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	p := testPack{chunks: map[ID][]byte{}}
	for _, c := range chunks {
		id := objects.Hash(c)
		if err := pw.Add(id, c); err != nil {
			t.Fatal(err)
		}
		p.chunks[id] = c
	}
	if pw.Len() != len(chunks) {
		t.Fatalf("Len() = %d, want %d", pw.Len(), len(chunks))
	}
	p.id, p.entries, err = pw.Finish()
	if err != nil {
		t.Fatal(err)
	}
	p.bytes = buf.Bytes()
	if pw.Size() != uint64(len(p.bytes)) {
		t.Fatalf("Size() = %d after Finish, pack has %d bytes", pw.Size(), len(p.bytes))
	}
	return p
}

// threeChunks returns distinct chunks of different sizes, one of them empty.
func threeChunks() [][]byte {
	return [][]byte{testBytes(10, 1000), testBytes(11, 1), {}, testBytes(12, 4096)}
}

// packIndexOff returns the index offset recorded in a pack's footer.
func packIndexOff(p []byte) int {
	return int(binary.LittleEndian.Uint64(p[len(p)-packFooterLen:]))
}

// setPackEntry overwrites entry i of the index embedded in pack p.
func setPackEntry(p []byte, i int, e objects.IndexEntry) {
	putTestEntry(p[packIndexOff(p)+i*packEntryLen:], e)
}

func putTestEntry(b []byte, e objects.IndexEntry) {
	copy(b[:32], e.ID[:])
	binary.LittleEndian.PutUint64(b[32:40], e.Offset)
	binary.LittleEndian.PutUint32(b[40:44], e.Length)
}

func checkSortedEntries(t testing.TB, entries []objects.IndexEntry) {
	t.Helper()
	for i := 1; i < len(entries); i++ {
		if bytes.Compare(entries[i-1].ID[:], entries[i].ID[:]) >= 0 {
			t.Fatalf("entries %d and %d are not in strictly increasing id order", i-1, i)
		}
	}
}

func TestPackRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		chunks [][]byte
	}{
		{"empty pack", nil},
		{"one chunk", [][]byte{[]byte("hello")}},
		{"several", threeChunks()},
		{"many", func() [][]byte {
			var cs [][]byte
			for i := range 300 {
				cs = append(cs, testBytes(uint64(100+i), 1+i*7))
			}
			return cs
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := buildPack(t, tt.chunks...)
			if p.id != objects.Hash(p.bytes) {
				t.Fatalf("Finish returned id %v, BLAKE3 of the pack is %v", p.id, objects.Hash(p.bytes))
			}
			if string(p.bytes[:8]) != "TRVPACK1" || string(p.bytes[len(p.bytes)-8:]) != "TRVPEND1" {
				t.Fatalf("pack does not start with TRVPACK1 and end with TRVPEND1")
			}
			want := len("TRVPACK1") + len(tt.chunks)*packEntryLen + packFooterLen
			for _, c := range tt.chunks {
				want += len(c)
			}
			if len(p.bytes) != want {
				t.Fatalf("pack has %d bytes, want %d", len(p.bytes), want)
			}
			checkSortedEntries(t, p.entries)
			got, err := objects.ReadPackIndex(bytes.NewReader(p.bytes), int64(len(p.bytes)))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, p.entries) {
				t.Fatalf("ReadPackIndex = %v\nFinish returned %v", got, p.entries)
			}
			if len(got) != len(tt.chunks) {
				t.Fatalf("%d entries, want %d", len(got), len(tt.chunks))
			}
			for _, e := range got {
				b := p.bytes[e.Offset : e.Offset+uint64(e.Length)]
				if !bytes.Equal(b, p.chunks[e.ID]) || objects.Hash(b) != e.ID {
					t.Fatalf("entry %v does not locate its chunk", e)
				}
			}

			idx := objects.EncodeIndexFile(p.id, p.entries)
			if len(idx) != idxHeaderLen+len(p.entries)*packEntryLen+idxChecksumLen {
				t.Fatalf("index file has %d bytes", len(idx))
			}
			pid, entries, err := objects.DecodeIndexFile(idx)
			if err != nil {
				t.Fatal(err)
			}
			if pid != p.id || !slices.Equal(entries, p.entries) {
				t.Fatalf("DecodeIndexFile = %v, %v; want %v, %v", pid, entries, p.id, p.entries)
			}
		})
	}
}

// A ReaderAt may return io.EOF together with a full read at the end of its input.
type eofAtEnd struct{ r *bytes.Reader }

func (e eofAtEnd) ReadAt(p []byte, off int64) (int, error) {
	n, err := e.r.ReadAt(p, off)
	if err == nil && off+int64(n) == e.r.Size() {
		err = io.EOF
	}
	return n, err
}

func TestReadPackIndexEOFAtEnd(t *testing.T) {
	p := buildPack(t, threeChunks()...)
	got, err := objects.ReadPackIndex(eofAtEnd{bytes.NewReader(p.bytes)}, int64(len(p.bytes)))
	if err != nil {
		t.Fatalf("ReadPackIndex with a ReaderAt that reports io.EOF on a full last read: %v", err)
	}
	if !slices.Equal(got, p.entries) {
		t.Fatalf("entries = %v, want %v", got, p.entries)
	}
}

func TestReadPackIndexRejects(t *testing.T) {
	base := buildPack(t, threeChunks()...)
	n := len(base.entries)
	indexOff := packIndexOff(base.bytes)
	footer := len(base.bytes) - packFooterLen
	entry := func(i int) objects.IndexEntry { return base.entries[i] }

	tests := []struct {
		name   string
		mutate func(p []byte) []byte
		size   func(p []byte) int64 // default len(p)
	}{
		{name: "empty", mutate: func(p []byte) []byte { return nil }},
		{name: "header only", mutate: func(p []byte) []byte { return p[:8] }},
		{name: "header and partial footer", mutate: func(p []byte) []byte { return p[:27] }},
		{name: "last byte cut", mutate: func(p []byte) []byte { return p[:len(p)-1] }},
		{name: "footer cut", mutate: func(p []byte) []byte { return p[:footer] }},
		{name: "cut inside the chunks", mutate: func(p []byte) []byte { return p[:indexOff/2] }},
		{name: "bad magic", mutate: func(p []byte) []byte { p[0] ^= 1; return p }},
		{name: "zip magic", mutate: func(p []byte) []byte { copy(p, "PK\x03\x04\x00\x00\x00\x00"); return p }},
		{name: "bad end magic", mutate: func(p []byte) []byte { p[len(p)-1] = '2'; return p }},
		{name: "bytes appended", mutate: func(p []byte) []byte { return append(p, 0) }},
		{name: "footer offset +1", mutate: func(p []byte) []byte {
			binary.LittleEndian.PutUint64(p[footer:], uint64(indexOff+1))
			return p
		}},
		{name: "footer offset -44 (count kept)", mutate: func(p []byte) []byte {
			binary.LittleEndian.PutUint64(p[footer:], uint64(indexOff-packEntryLen))
			return p
		}},
		{name: "footer offset beyond the pack", mutate: func(p []byte) []byte {
			binary.LittleEndian.PutUint64(p[footer:], uint64(len(p))*2)
			return p
		}},
		{name: "footer offset huge", mutate: func(p []byte) []byte {
			binary.LittleEndian.PutUint64(p[footer:], ^uint64(0))
			return p
		}},
		{name: "footer count +1", mutate: func(p []byte) []byte {
			binary.LittleEndian.PutUint32(p[footer+8:], uint32(n+1))
			return p
		}},
		{name: "footer count 0", mutate: func(p []byte) []byte {
			binary.LittleEndian.PutUint32(p[footer+8:], 0)
			return p
		}},
		{name: "absurd count", mutate: func(p []byte) []byte {
			binary.LittleEndian.PutUint32(p[footer+8:], ^uint32(0))
			return p
		}},
		{name: "absurd count matching a lying offset", mutate: func(p []byte) []byte {
			// off = end - count*44 would be negative: the subtraction must not wrap.
			binary.LittleEndian.PutUint32(p[footer+8:], ^uint32(0))
			binary.LittleEndian.PutUint64(p[footer:], uint64(footer)-uint64(^uint32(0))*packEntryLen)
			return p
		}},
		{name: "entry offset into the header", mutate: func(p []byte) []byte {
			e := entry(0)
			e.Offset = 4
			setPackEntry(p, 0, e)
			return p
		}},
		{name: "entry overlapping the index", mutate: func(p []byte) []byte {
			e := entry(n - 1)
			e.Offset = uint64(indexOff) - uint64(e.Length) + 1
			setPackEntry(p, n-1, e)
			return p
		}},
		{name: "entry length past the index", mutate: func(p []byte) []byte {
			e := entry(0)
			e.Length = uint32(indexOff)
			setPackEntry(p, 0, e)
			return p
		}},
		{name: "entry offset beyond the pack", mutate: func(p []byte) []byte {
			e := entry(1)
			e.Offset = uint64(len(p)) + 100
			setPackEntry(p, 1, e)
			return p
		}},
		{name: "entry offset wraps around", mutate: func(p []byte) []byte {
			// offset + length overflows uint64 to a small number.
			e := entry(1)
			e.Offset, e.Length = ^uint64(0)-1, 10
			setPackEntry(p, 1, e)
			return p
		}},
		{name: "entry offset 2^63", mutate: func(p []byte) []byte {
			e := entry(1)
			e.Offset = 1 << 63
			setPackEntry(p, 1, e)
			return p
		}},
		{name: "entries unsorted", mutate: func(p []byte) []byte {
			setPackEntry(p, 0, entry(1))
			setPackEntry(p, 1, entry(0))
			return p
		}},
		{name: "duplicate entry", mutate: func(p []byte) []byte {
			setPackEntry(p, 1, entry(0))
			return p
		}},
		{name: "size claims more than the reader has", size: func(p []byte) int64 { return int64(len(p)) + 1000 }},
		{name: "size smaller than the pack", size: func(p []byte) int64 { return int64(len(p)) - 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := bytes.Clone(base.bytes)
			if tt.mutate != nil {
				p = tt.mutate(p)
			}
			size := int64(len(p))
			if tt.size != nil {
				size = tt.size(p)
			}
			entries, err := objects.ReadPackIndex(bytes.NewReader(p), size)
			if !errors.Is(err, objects.ErrCorrupt) {
				t.Fatalf("ReadPackIndex = %v, %v; want an error matching ErrCorrupt", entries, err)
			}
			if entries != nil {
				t.Fatalf("entries returned with an error: %v", entries)
			}
		})
	}
}

// encodeRawIndexFile builds an index file with a correct checksum around whatever
// count and entries it is given, to test the checks behind the checksum.
func encodeRawIndexFile(pack ID, count uint32, entries []objects.IndexEntry) []byte {
	b := []byte("TRVIDX01")
	b = append(b, pack[:]...)
	b = binary.LittleEndian.AppendUint32(b, count)
	for _, e := range entries {
		var eb [packEntryLen]byte
		putTestEntry(eb[:], e)
		b = append(b, eb[:]...)
	}
	sum := objects.Hash(b)
	return append(b, sum[:]...)
}

func TestEncodeIndexFileLayout(t *testing.T) {
	p := buildPack(t, threeChunks()...)
	got := objects.EncodeIndexFile(p.id, p.entries)
	want := encodeRawIndexFile(p.id, uint32(len(p.entries)), p.entries)
	if !bytes.Equal(got, want) {
		t.Fatalf("EncodeIndexFile layout changed:\n got %x\nwant %x", got, want)
	}
}

func TestDecodeIndexFileRejects(t *testing.T) {
	p := buildPack(t, threeChunks()...)
	good := objects.EncodeIndexFile(p.id, p.entries)
	e := p.entries
	swapped := []objects.IndexEntry{e[1], e[0], e[2], e[3]}
	dup := []objects.IndexEntry{e[0], e[0], e[2], e[3]}
	wrap := slices.Clone(e)
	wrap[2].Offset, wrap[2].Length = ^uint64(0)-4, 100
	far := slices.Clone(e)
	far[0].Offset = 1 << 63
	header := slices.Clone(e)
	header[0].Offset = 0

	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"magic only", []byte("TRVIDX01")},
		{"header without checksum", good[:idxHeaderLen]},
		{"truncated by one", good[:len(good)-1]},
		{"truncated by one entry", good[:len(good)-packEntryLen]},
		{"extended", append(slices.Clone(good), 0)},
		{"bad magic", append([]byte("TRVIDX02"), good[8:]...)},
		{"flipped byte in magic", flip(good, 3)},
		{"flipped byte in pack id", flip(good, 8+5)},
		{"flipped byte in count", flip(good, 8+32)},
		{"flipped byte in an entry id", flip(good, idxHeaderLen+packEntryLen+3)},
		{"flipped byte in an entry offset", flip(good, idxHeaderLen+32)},
		{"flipped byte in an entry length", flip(good, idxHeaderLen+40)},
		{"flipped byte in checksum", flip(good, len(good)-1)},
		{"absurd count, good checksum", encodeRawIndexFile(p.id, ^uint32(0), e)},
		{"count above the limit, good checksum", encodeRawIndexFile(p.id, 1<<22+1, e)},
		{"count +1, good checksum", encodeRawIndexFile(p.id, uint32(len(e)+1), e)},
		{"count -1, good checksum", encodeRawIndexFile(p.id, uint32(len(e)-1), e)},
		{"unsorted, good checksum", encodeRawIndexFile(p.id, 4, swapped)},
		{"duplicate, good checksum", encodeRawIndexFile(p.id, 4, dup)},
		{"offset wraps around, good checksum", encodeRawIndexFile(p.id, 4, wrap)},
		{"offset 2^63, good checksum", encodeRawIndexFile(p.id, 4, far)},
		{"offset in the pack header, good checksum", encodeRawIndexFile(p.id, 4, header)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pid, entries, err := objects.DecodeIndexFile(tt.b)
			if !errors.Is(err, objects.ErrCorrupt) {
				t.Fatalf("DecodeIndexFile = %v, %v, %v; want an error matching ErrCorrupt", pid, entries, err)
			}
		})
	}
	// The control: the untouched file decodes.
	if _, _, err := objects.DecodeIndexFile(good); err != nil {
		t.Fatal(err)
	}
}

func flip(b []byte, i int) []byte {
	c := slices.Clone(b)
	c[i] ^= 0x40
	return c
}

func FuzzReadPackIndex(f *testing.F) {
	p := buildPack(f, threeChunks()...)
	f.Add(p.bytes)
	f.Add(buildPack(f).bytes)
	f.Add(buildPack(f, []byte("x")).bytes)
	f.Add(p.bytes[:len(p.bytes)-1])
	f.Add([]byte("TRVPACK1"))
	f.Add([]byte("TRVPACK1\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00TRVPEND1"))
	f.Add([]byte("TRVPACK1\x08\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xffTRVPEND1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := objects.ReadPackIndex(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if !errors.Is(err, objects.ErrCorrupt) {
				t.Fatalf("error does not match ErrCorrupt: %v", err)
			}
			return
		}
		checkSortedEntries(t, entries)
		indexOff := packIndexOff(b)
		if indexOff+len(entries)*packEntryLen+packFooterLen != len(b) {
			t.Fatalf("accepted a pack whose footer does not describe it")
		}
		for _, e := range entries {
			if e.Offset < packHeaderLen || e.Offset > uint64(indexOff) || uint64(e.Length) > uint64(indexOff)-e.Offset {
				t.Fatalf("accepted entry %+v outside the chunk area [8, %d)", e, indexOff)
			}
		}
	})
}

func FuzzDecodeIndexFile(f *testing.F) {
	p := buildPack(f, threeChunks()...)
	good := objects.EncodeIndexFile(p.id, p.entries)
	f.Add(good)
	f.Add(good[:len(good)-idxChecksumLen]) // a body: checked again with its checksum
	f.Add(objects.EncodeIndexFile(ID{}, nil))
	f.Add(flip(good, 50))
	f.Add(encodeRawIndexFile(p.id, ^uint32(0), p.entries))
	f.Add([]byte("TRVIDX01"))
	check := func(t *testing.T, b []byte) {
		pid, entries, err := objects.DecodeIndexFile(b)
		if err != nil {
			if !errors.Is(err, objects.ErrCorrupt) {
				t.Fatalf("error does not match ErrCorrupt: %v", err)
			}
			return
		}
		checkSortedEntries(t, entries)
		for _, e := range entries {
			if e.Offset < packHeaderLen || e.Offset+uint64(e.Length) < e.Offset {
				t.Fatalf("accepted entry %+v", e)
			}
		}
		// One valid encoding: what decodes re-encodes to the same bytes.
		if again := objects.EncodeIndexFile(pid, entries); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n got %x\nwant %x", again, b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		check(t, b)
		// Random bytes almost never carry a good checksum; give them one so the
		// fuzzer reaches the count and entry checks behind it.
		sum := objects.Hash(b)
		check(t, append(slices.Clone(b), sum[:]...))
	})
}
