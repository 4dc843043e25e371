package objects_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/trove-dev/trove/objects"
)

// BLAKE3-256 test vectors, as printed by `printf %s INPUT | b3sum`.
var idVectors = []struct {
	in  string
	hex string
}{
	{"", "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
	{"abc", "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"},
}

func TestHashVectors(t *testing.T) {
	for _, v := range idVectors {
		id := objects.Hash([]byte(v.in))
		if got := id.Hex(); got != v.hex {
			t.Errorf("Hash(%q).Hex() = %s, want %s", v.in, got, v.hex)
		}
		if got := id.String(); got != "blake3:"+v.hex {
			t.Errorf("Hash(%q).String() = %s, want blake3:%s", v.in, got, v.hex)
		}
		if got := id.Short(); got != v.hex[:12] {
			t.Errorf("Hash(%q).Short() = %s, want %s", v.in, got, v.hex[:12])
		}
		// HashReader must agree with Hash whatever the read sizes.
		rid, n, err := objects.HashReader(iotest.OneByteReader(strings.NewReader(v.in)))
		if err != nil || rid != id || n != int64(len(v.in)) {
			t.Errorf("HashReader(%q) = %v, %d, %v; want %v, %d, nil", v.in, rid, n, err, id, len(v.in))
		}
	}
}

func TestHashReaderLarge(t *testing.T) {
	data := testBytes(1, 3<<20+17)
	id, n, err := objects.HashReader(bytes.NewReader(data))
	if err != nil || n != int64(len(data)) || id != objects.Hash(data) {
		t.Fatalf("HashReader = %v, %d, %v; want %v, %d, nil", id, n, err, objects.Hash(data), len(data))
	}
	boom := errors.New("boom")
	if _, _, err := objects.HashReader(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Fatalf("HashReader of a failing reader: err = %v, want %v", err, boom)
	}
}

func TestIDZero(t *testing.T) {
	var zero objects.ID
	if !zero.IsZero() {
		t.Error("zero ID: IsZero() = false")
	}
	if objects.Hash(nil).IsZero() {
		t.Error("Hash(nil).IsZero() = true: the empty content has a real id")
	}
}

func TestParseIDRoundTrip(t *testing.T) {
	for i := range 50 {
		id := objects.Hash([]byte{byte(i), byte(i >> 8)})
		got, err := objects.ParseID(id.String())
		if err != nil || got != id {
			t.Fatalf("ParseID(%s) = %v, %v", id, got, err)
		}
		got, err = objects.ParseHex(id.Hex())
		if err != nil || got != id {
			t.Fatalf("ParseHex(%s) = %v, %v", id.Hex(), got, err)
		}
		text, err := id.MarshalText()
		if err != nil || string(text) != id.String() {
			t.Fatalf("MarshalText = %q, %v", text, err)
		}
		var back objects.ID
		if err := back.UnmarshalText(text); err != nil || back != id {
			t.Fatalf("UnmarshalText(%q) = %v, %v", text, back, err)
		}
	}
	// In JSON an id is its string form, both as a value and as a map key.
	type doc struct {
		ID   objects.ID            `json:"id"`
		Sets map[objects.ID]string `json:"sets"`
	}
	in := doc{ID: objects.Hash([]byte("abc")), Sets: map[objects.ID]string{objects.Hash(nil): "empty"}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"blake3:` + idVectors[1].hex + `","sets":{"blake3:` + idVectors[0].hex + `":"empty"}}`
	if string(b) != want {
		t.Fatalf("json = %s\nwant   %s", b, want)
	}
	var out doc
	if err := json.Unmarshal(b, &out); err != nil || out.ID != in.ID || out.Sets[objects.Hash(nil)] != "empty" {
		t.Fatalf("json round trip = %+v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"id":"blake3:00"}`), &out); !errors.Is(err, objects.ErrBadID) {
		t.Fatalf("json with a short id: err = %v, want ErrBadID", err)
	}
}

func TestParseIDRejects(t *testing.T) {
	good := idVectors[1].hex
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"prefix only", "blake3:"},
		{"no prefix", good},
		{"wrong prefix", "sha256:" + good},
		{"uppercase prefix", "BLAKE3:" + good},
		{"prefix without colon", "blake3" + good},
		{"uppercase hex", "blake3:" + strings.ToUpper(good)},
		{"one uppercase digit", "blake3:" + good[:10] + "A" + good[11:]},
		{"short", "blake3:" + good[:63]},
		{"long", "blake3:" + good + "0"},
		{"half", "blake3:" + good[:32]},
		{"non-hex", "blake3:" + good[:63] + "g"},
		{"leading space", " blake3:" + good},
		{"trailing newline", "blake3:" + good + "\n"},
		{"inner space", "blake3:" + good[:31] + " " + good[32:]},
		{"multibyte", "blake3:" + good[:62] + "é"},
		{"0x prefix", "blake3:0x" + good[:62]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := objects.ParseID(tt.in)
			if !errors.Is(err, objects.ErrBadID) {
				t.Fatalf("ParseID(%q) = %v, %v; want ErrBadID", tt.in, id, err)
			}
			if !id.IsZero() {
				t.Fatalf("ParseID(%q) returned a non-zero id with an error", tt.in)
			}
			var u objects.ID
			if err := u.UnmarshalText([]byte(tt.in)); !errors.Is(err, objects.ErrBadID) {
				t.Fatalf("UnmarshalText(%q) = %v; want ErrBadID", tt.in, err)
			}
		})
	}
}

func TestParseHexRejects(t *testing.T) {
	good := idVectors[0].hex
	for _, in := range []string{
		"",
		"blake3:" + good,
		strings.ToUpper(good),
		good[:63],
		good + "00",
		good[:63] + "z",
		good[:62] + "é",
	} {
		if id, err := objects.ParseHex(in); !errors.Is(err, objects.ErrBadID) {
			t.Errorf("ParseHex(%q) = %v, %v; want ErrBadID", in, id, err)
		}
	}
	if _, err := objects.ParseHex(good); err != nil {
		t.Errorf("ParseHex(%q): %v", good, err)
	}
}
