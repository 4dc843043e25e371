package governance

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const (
	testCommit = "0123456789abcdef0123456789abcdef01234567"
	testDigest = "blake3:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
)

func registerRecord() Record {
	return Record{
		Trove: RecordFormat, Action: ActionRegister, Name: "churn", Version: "v1.2.0",
		Artifact: "models/churn.onnx", Digest: testDigest, ManifestCommit: testCommit,
		At: "2026-01-02T03:04:05Z", By: "Ada Lovelace <ada@example.com>", Message: "first <cut> & \"quoted\"",
	}
}

// The record is a stable format: this pins its encoding.
func TestEncodeRecordGolden(t *testing.T) {
	r := registerRecord()
	b, err := EncodeRecord(&r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"action":"register","artifact":"models/churn.onnx","at":"2026-01-02T03:04:05Z","by":"Ada Lovelace <ada@example.com>",` +
		`"digest":"` + testDigest + `","manifest_commit":"` + testCommit + `","message":"first <cut> & \"quoted\"",` +
		`"name":"churn","trove":1,"version":"v1.2.0"}` + "\n"
	if string(b) != want {
		t.Errorf("EncodeRecord:\n got %s\nwant %s", b, want)
	}
	// Keys in sorted order: the encoding is canonical.
	var keys []string
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.Token()
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	for i := 1; i < len(keys); i++ {
		if keys[i-1] >= keys[i] {
			t.Errorf("keys out of order: %q before %q", keys[i-1], keys[i])
		}
	}

	// An assignment with a decision attached keeps it verbatim (compacted).
	a := Record{Trove: 1, Action: ActionAssign, Name: "churn", Version: "v1.2.0", Stage: "production",
		At: "2026-01-02T05:00:00Z", By: "B <b@example.com>", Decision: json.RawMessage(`{"allow": true, "rules": ["lineage"]}`)}
	b, err = EncodeRecord(&a)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"decision":{"allow":true,"rules":["lineage"]}`) {
		t.Errorf("decision not kept: %s", b)
	}
	// Without one, the field is absent.
	a.Decision = nil
	b, _ = EncodeRecord(&a)
	if strings.Contains(string(b), "decision") {
		t.Errorf("empty decision written: %s", b)
	}
}

func TestDecodeRecord(t *testing.T) {
	good := registerRecord()
	enc, _ := EncodeRecord(&good)
	for _, tc := range []struct {
		name string
		msg  string
		want error // nil: decodes to good
	}{
		{"canonical", string(enc), nil},
		{"leading blank lines", "\n\n" + string(enc), nil},
		{"signature after it", string(enc) + "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n", nil},
		{"unknown fields are ignored", strings.Replace(string(enc), `"trove":1`, `"trove":1,"chain":"abc","future":{"x":1}`, 1), nil},
		{"a newer format is read", strings.Replace(string(enc), `"trove":1`, `"trove":2`, 1), nil},
		{"GTO's free text", "Registering artifact churn version v1.2.0", ErrNotRecord},
		{"empty", "", ErrNotRecord},
		{"JSON without trove", `{"version":"v1.2.0"}`, ErrNotRecord},
		{"broken JSON", `{"version":`, ErrNotRecord},
		{"broken record", `{"trove":1,`, ErrBadRecord},
		{"trove zero", strings.Replace(string(enc), `"trove":1`, `"trove":0`, 1), ErrBadRecord},
		{"trove not a number", strings.Replace(string(enc), `"trove":1`, `"trove":"1"`, 1), ErrBadRecord},
		{"no by", strings.Replace(string(enc), `"by":"Ada Lovelace <ada@example.com>",`, "", 1), ErrBadRecord},
		{"local time", strings.Replace(string(enc), `03:04:05Z`, `03:04:05+02:00`, 1), ErrBadRecord},
		{"bad version", strings.Replace(string(enc), `"v1.2.0"`, `"1.2"`, 1), ErrBadRecord},
		{"registration without digest", strings.Replace(string(enc), `"digest":"`+testDigest+`",`, "", 1), ErrBadRecord},
		{"unknown action", strings.Replace(string(enc), `"register"`, `"promote"`, 1), ErrBadRecord},
	} {
		r, err := DecodeRecord(tc.msg)
		switch {
		case tc.want != nil:
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: DecodeRecord = %+v, %v; want %v", tc.name, r, err, tc.want)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case r.Name != good.Name || r.Version != good.Version || r.Digest != good.Digest || r.ManifestCommit != good.ManifestCommit || r.Message != good.Message:
			t.Errorf("%s: decoded %+v", tc.name, r)
		}
	}
}

func TestRecordAgrees(t *testing.T) {
	r := registerRecord()
	for _, tc := range []struct {
		tag string
		ok  bool
	}{
		{"churn@v1.2.0", true},
		{"churn@v1.2.0#9", true},
		{"churn@v1.2.1", false},
		{"other@v1.2.0", false},
		{"churn@v1.2.0!#2", false},
		{"churn#production#2", false},
	} {
		tn, err := ParseTagName(tc.tag)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.agrees(tn); (err == nil) != tc.ok {
			t.Errorf("record vs %s: %v, want ok=%v", tc.tag, err, tc.ok)
		}
	}
	a := Record{Trove: 1, Action: ActionAssign, Name: "churn", Version: "v1.2.0", Stage: "staging", At: "2026-01-02T05:00:00Z", By: "B <b@x>"}
	for tag, ok := range map[string]bool{"churn#staging#3": true, "churn#staging": true, "churn#production#3": false, "churn#staging!#3": false} {
		tn, _ := ParseTagName(tag)
		if err := a.agrees(tn); (err == nil) != ok {
			t.Errorf("assignment record vs %s: %v, want ok=%v", tag, err, ok)
		}
	}
}
