package sign

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// testKey returns a deterministic ed25519 signer; seed picks the key.
func testKey(t testing.TB, seed byte) ssh.Signer {
	t.Helper()
	s, err := NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testSigners(t *testing.T) map[string]ssh.Signer {
	t.Helper()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]ssh.Signer{"ed25519": testKey(t, 1)}
	for name, k := range map[string]any{"ecdsa-p256": ec, "ecdsa-p384": ec384, "rsa": rk} {
		s, err := ssh.NewSignerFromKey(k)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = s
	}
	return out
}

func TestSignVerifyRoundTrip(t *testing.T) {
	msg := []byte("approve blake3:00 for production\n")
	for name, s := range testSigners(t) {
		t.Run(name, func(t *testing.T) {
			sig, err := Sign(s, Namespace, msg)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := Verify(sig, msg, Namespace)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pub.Marshal(), s.PublicKey().Marshal()) {
				t.Fatal("Verify returned another key")
			}
			parsed, err := ParseSignature(sig)
			if err != nil {
				t.Fatal(err)
			}
			if parsed.HashAlgorithm != "sha512" || parsed.Namespace != Namespace {
				t.Fatalf("parsed %+v", parsed)
			}
			if name == "rsa" && parsed.Signature.Format != ssh.KeyAlgoRSASHA512 {
				t.Fatalf("RSA signature format %q, want rsa-sha2-512", parsed.Signature.Format)
			}
			if _, err := Verify(sig, append(msg, 'x'), Namespace); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("altered message: err = %v, want ErrBadSignature", err)
			}
			if _, err := Verify(sig, msg, GitNamespace); !errors.Is(err, ErrNamespace) || !strings.Contains(err.Error(), `"trove", want "git"`) {
				t.Fatalf("wrong namespace: err = %v", err)
			}
		})
	}
}

// TestGoldenEd25519 pins the encoding: ed25519 signatures are deterministic, so the
// armored bytes for a fixed key and message never change.
func TestGoldenEd25519(t *testing.T) {
	sig, err := Sign(testKey(t, 7), Namespace, []byte("hello trove\n"))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "ed25519-hello.sig")
	if *updateGolden {
		if err := os.WriteFile(golden, sig, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sig, want) {
		t.Fatalf("signature changed:\n%s\nwant:\n%s", sig, want)
	}
	lines := strings.Split(strings.TrimSpace(string(sig)), "\n")
	for _, l := range lines[1 : len(lines)-2] {
		if len(l) != lineLen {
			t.Fatalf("body line %q is %d characters, want %d", l, len(l), lineLen)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	msg := []byte("m")
	good, err := Sign(testKey(t, 1), Namespace, msg)
	if err != nil {
		t.Fatal(err)
	}
	blob := func(sig []byte) []byte {
		s := strings.TrimSpace(string(sig))
		s = strings.TrimPrefix(s, armorBegin)
		s = strings.TrimSuffix(s, armorEnd)
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	flipLast := func() []byte {
		b := blob(good)
		b[len(b)-1] ^= 1
		return armor(b)
	}
	truncated := func() []byte {
		b := blob(good)
		return armor(b[:len(b)-10])
	}
	version2 := func() []byte {
		b := blob(good)
		b[9] = 2
		return armor(b)
	}
	sha1RSA := func() []byte {
		rk, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ssh.NewSignerFromKey(rk)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := signedData(Namespace, hashSHA512, msg)
		sig, err := s.(ssh.AlgorithmSigner).SignWithAlgorithm(rand.Reader, data, ssh.KeyAlgoRSA)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.WriteString(magic)
		b.Write([]byte{0, 0, 0, 1})
		putString(&b, s.PublicKey().Marshal())
		putString(&b, []byte(Namespace))
		putString(&b, nil)
		putString(&b, []byte(hashSHA512))
		putString(&b, ssh.Marshal(sig))
		return armor(b.Bytes())
	}
	for _, tc := range []struct {
		name string
		sig  []byte
		want error
		text string
	}{
		{"empty", nil, ErrMalformed, "does not start"},
		{"no footer", []byte(armorBegin + "\nAAAA\n"), ErrMalformed, "does not end"},
		{"bad base64", []byte(armorBegin + "\n!!!!\n" + armorEnd), ErrMalformed, "base64"},
		{"tampered signature", flipLast(), ErrBadSignature, "did not sign"},
		{"truncated", truncated(), ErrMalformed, "truncated"},
		{"version 2", version2(), ErrMalformed, "version 2"},
		{"ssh-rsa sha1", sha1RSA(), ErrUnsupportedKey, "rsa-sha2-512"},
		{"huge", bytes.Repeat([]byte("A"), maxArmored+1), ErrMalformed, "more than any"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(tc.sig, msg, Namespace)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.want, tc.text)
			}
		})
	}
	// CRLF and surrounding white space are tolerated.
	crlf := "\n  " + strings.ReplaceAll(string(good), "\n", "\r\n") + "\n\n"
	if _, err := Verify([]byte(crlf), msg, Namespace); err != nil {
		t.Fatal(err)
	}
}

func TestSignRejects(t *testing.T) {
	s := testKey(t, 1)
	if _, err := Sign(s, "", []byte("m")); err == nil {
		t.Fatal("empty namespace accepted")
	}
	cert := &ssh.Certificate{Key: s.PublicKey(), CertType: ssh.UserCert, ValidPrincipals: []string{"a"}, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, testKey(t, 2)); err != nil {
		t.Fatal(err)
	}
	cs, err := ssh.NewCertSigner(cert, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Sign(cs, Namespace, []byte("m")); !errors.Is(err, ErrUnsupportedKey) {
		t.Fatalf("certificate: err = %v, want ErrUnsupportedKey", err)
	}
}

func FuzzParseSignature(f *testing.F) {
	good, err := Sign(testKey(f, 1), Namespace, []byte("m"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(armorBegin + "\n" + armorEnd))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSignature(b)
		if err != nil {
			return
		}
		_ = s.verify([]byte("m"), s.Namespace)
	})
}
