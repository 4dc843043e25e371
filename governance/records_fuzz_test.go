package governance

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodeRecord: a registry tag's message comes from whoever pushed the tag.
// Decoding never panics, classifies every message (a record, not a record, or a
// malformed one), and what it accepts re-encodes to a record that decodes to
// the same thing.
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range []*Record{
		{Action: ActionRegister, Artifact: "models/m.bin", At: "2026-01-02T03:04:05Z", By: "A <a@example.com>", Digest: "blake3:" + hex64('a'), ManifestCommit: hex40('b'), Name: "churn", Trove: 1, Version: "v1.2.3"},
		{Action: ActionAssign, At: "2026-01-02T03:04:05Z", By: "A <a@example.com>", Decision: []byte(`{"allow":true}`), Name: "churn", Stage: "prod", Trove: 1, Version: "v1.2.3"},
		{Action: ActionDeprecate, At: "2026-01-02T03:04:05Z", By: "A", Name: "churn", Trove: 1},
	} {
		b, err := EncodeRecord(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
		f.Add(string(b) + "-----BEGIN SSH SIGNATURE-----\nxx\n-----END SSH SIGNATURE-----\n")
	}
	f.Add("Registering model churn v1 (a GTO free-text message)")
	f.Add(`{"trove": 2, "name": "x"`)
	f.Add(`{"trove":1e400}`)
	f.Add(`  {"trove":1,"action":"assign","name":"m","by":"b","at":"2026-01-01T00:00:00+01:00"}`)
	f.Fuzz(func(t *testing.T, msg string) {
		r, err := DecodeRecord(msg)
		if err != nil {
			if r != nil {
				t.Fatalf("DecodeRecord returned a record and %v", err)
			}
			if !errors.Is(err, ErrNotRecord) && !errors.Is(err, ErrBadRecord) {
				t.Fatalf("DecodeRecord: unclassified error %v", err)
			}
			return
		}
		b, err := EncodeRecord(r)
		if err != nil {
			t.Fatalf("accepted record does not re-encode: %v\n%q", err, msg)
		}
		r2, err := DecodeRecord(string(b))
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v\n%s", err, b)
		}
		b2, _ := EncodeRecord(r2)
		if !bytes.Equal(b, b2) {
			t.Fatalf("encoding not stable:\n%s\n%s", b, b2)
		}
	})
}

// FuzzDecodeApproval: approval records are files anyone can commit. Decoding
// never panics and accepts only the one canonical form of a valid record.
func FuzzDecodeApproval(f *testing.F) {
	a := &ApprovalRecord{At: "2026-01-02T03:04:05Z", Comment: "looks good", Digest: "blake3:" + hex64('c'), Name: "churn", PolicyDigest: "blake3:" + hex64('d'), Principal: "alice@example.com", Roles: []string{"risk"}, Stage: "prod", Trove: 1, Version: "v1.0.0"}
	b, err := EncodeApproval(a)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(bytes.ReplaceAll(b, []byte("  "), []byte(" ")))
	f.Add([]byte(`{"trove":2}`))
	f.Add([]byte(`{"trove":1,"at":"x"}`))
	f.Add(append(append([]byte{}, b...), b...))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := DecodeApproval(data)
		if err != nil {
			if a != nil {
				t.Fatalf("DecodeApproval returned a record and %v", err)
			}
			if !errors.Is(err, ErrBadApproval) && !errors.Is(err, ErrNewerApproval) {
				t.Fatalf("DecodeApproval: unclassified error %v", err)
			}
			return
		}
		b, err := EncodeApproval(a)
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("accepted a non-canonical approval (%v):\n%q\n%q", err, data, b)
		}
	})
}

func hex64(c byte) string { return string(bytes.Repeat([]byte{c}, 64)) }
func hex40(c byte) string { return string(bytes.Repeat([]byte{c}, 40)) }
