package sign

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Namespaces trove signs in. A namespace is part of what is signed, so a signature made
// for one purpose can never be replayed as another (an approval as a git tag, say).
const (
	// Namespace is the namespace of trove's own records: approvals, promotions,
	// decisions.
	Namespace = "trove"
	// GitNamespace is the namespace git uses for tag and commit signatures
	// (gpg.format=ssh).
	GitNamespace = "git"
)

// Limits on what Verify and ParseSignature read. The largest signature ssh-keygen
// makes (RSA 16384) armors to well under 8 KiB.
const (
	maxArmored = 64 << 10
	// lineLen is the width ssh-keygen wraps the base64 body at.
	lineLen = 70
)

const (
	armorBegin = "-----BEGIN SSH SIGNATURE-----"
	armorEnd   = "-----END SSH SIGNATURE-----"
	magic      = "SSHSIG"
	sigVersion = 1

	hashSHA512 = "sha512"
	hashSHA256 = "sha256"
)

var (
	// ErrMalformed is returned (wrapped) for bytes that are not an SSHSIG signature.
	ErrMalformed = errors.New("malformed SSH signature")
	// ErrBadSignature is returned (wrapped) when a well-formed signature does not
	// verify: the message or the signature was altered, or another key made it.
	ErrBadSignature = errors.New("SSH signature does not verify")
	// ErrNamespace is returned (wrapped) when the signature was made for another
	// namespace than the one the verifier expects.
	ErrNamespace = errors.New("SSH signature namespace mismatch")
	// ErrUnsupportedKey is returned (wrapped) for key or signature algorithms trove
	// does not sign or verify with.
	ErrUnsupportedKey = errors.New("unsupported SSH key type")
)

// supportedKeys are the public key types trove signs and verifies with. Certificates,
// DSA and security-key (sk-*) types are refused: certificates need cert-authority
// support in the allowed-signers file, DSA is deprecated, and sk keys cannot be tested
// here without hardware.
var supportedKeys = map[string]bool{
	ssh.KeyAlgoED25519:  true,
	ssh.KeyAlgoECDSA256: true,
	ssh.KeyAlgoECDSA384: true,
	ssh.KeyAlgoECDSA521: true,
	ssh.KeyAlgoRSA:      true,
}

// Signature is a decoded SSHSIG blob. It is not verified; use Verify.
type Signature struct {
	PublicKey     ssh.PublicKey
	Namespace     string
	HashAlgorithm string
	Signature     *ssh.Signature
}

// checkKey refuses key types trove does not support.
func checkKey(pub ssh.PublicKey) error {
	if _, ok := pub.(*ssh.Certificate); ok {
		return fmt.Errorf("%w: SSH certificates are not supported; sign with the plain key", ErrUnsupportedKey)
	}
	if !supportedKeys[pub.Type()] {
		return fmt.Errorf("%w %q: use ssh-ed25519, ecdsa-sha2-nistp256 (or nistp384/521) or RSA", ErrUnsupportedKey, pub.Type())
	}
	return nil
}

// signedData builds the bytes the SSH signature covers (PROTOCOL.sshsig section 3):
// the preamble, then namespace, reserved, hash algorithm and H(message) as SSH strings.
func signedData(namespace, hashAlg string, message []byte) ([]byte, error) {
	var h []byte
	switch hashAlg {
	case hashSHA512:
		s := sha512.Sum512(message)
		h = s[:]
	case hashSHA256:
		s := sha256.Sum256(message)
		h = s[:]
	default:
		return nil, fmt.Errorf("%w: hash algorithm %q (want sha512 or sha256)", ErrMalformed, hashAlg)
	}
	var b bytes.Buffer
	b.WriteString(magic)
	putString(&b, []byte(namespace))
	putString(&b, nil) // reserved
	putString(&b, []byte(hashAlg))
	putString(&b, h)
	return b.Bytes(), nil
}

func putString(b *bytes.Buffer, s []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(s)))
	b.Write(n[:])
	b.Write(s)
}

// Sign signs message in namespace with signer and returns the armored signature,
// byte for byte what `ssh-keygen -Y sign -n NAMESPACE` writes: the message is hashed
// with SHA-512; RSA keys sign with rsa-sha2-512 (the signer must then be an
// ssh.AlgorithmSigner, as key files and ssh-agent signers are). To sign with a
// crypto.Signer (ed25519.PrivateKey, *ecdsa.PrivateKey, *rsa.PrivateKey), wrap it
// with NewSigner first.
func Sign(signer ssh.Signer, namespace string, message []byte) ([]byte, error) {
	if namespace == "" {
		return nil, errors.New("sign: namespace must not be empty")
	}
	pub := signer.PublicKey()
	if err := checkKey(pub); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	data, err := signedData(namespace, hashSHA512, message)
	if err != nil {
		return nil, err
	}
	var sig *ssh.Signature
	if pub.Type() == ssh.KeyAlgoRSA {
		as, ok := signer.(ssh.AlgorithmSigner)
		if !ok {
			return nil, fmt.Errorf("sign: %w: this RSA signer cannot make rsa-sha2-512 signatures", ErrUnsupportedKey)
		}
		sig, err = as.SignWithAlgorithm(rand.Reader, data, ssh.KeyAlgoRSASHA512)
	} else {
		sig, err = signer.Sign(rand.Reader, data)
	}
	if err != nil {
		return nil, fmt.Errorf("sign with %s key %s: %w", pub.Type(), ssh.FingerprintSHA256(pub), err)
	}
	var blob bytes.Buffer
	blob.WriteString(magic)
	binary.Write(&blob, binary.BigEndian, uint32(sigVersion))
	putString(&blob, pub.Marshal())
	putString(&blob, []byte(namespace))
	putString(&blob, nil)
	putString(&blob, []byte(hashSHA512))
	putString(&blob, ssh.Marshal(sig))
	return armor(blob.Bytes()), nil
}

// NewSigner adapts a crypto.Signer (ed25519.PrivateKey, *ecdsa.PrivateKey,
// *rsa.PrivateKey) for Sign.
func NewSigner(s crypto.Signer) (ssh.Signer, error) {
	sg, err := ssh.NewSignerFromSigner(s)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return sg, nil
}

// SignTagPayload signs a git tag (or commit) payload the way git does with
// gpg.format=ssh: namespace "git". Append the result to the tag object's bytes and
// `git verify-tag` accepts it against an allowed-signers file listing the key.
func SignTagPayload(signer ssh.Signer, payload []byte) ([]byte, error) {
	return Sign(signer, GitNamespace, payload)
}

func armor(blob []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(blob)
	var b strings.Builder
	b.WriteString(armorBegin + "\n")
	for len(enc) > lineLen {
		b.WriteString(enc[:lineLen])
		b.WriteByte('\n')
		enc = enc[lineLen:]
	}
	b.WriteString(enc)
	b.WriteString("\n" + armorEnd + "\n")
	return []byte(b.String())
}

// ParseSignature decodes an armored SSH signature without verifying it. Leading and
// trailing white space and CRLF line ends are tolerated.
func ParseSignature(armored []byte) (*Signature, error) {
	if len(armored) > maxArmored {
		return nil, fmt.Errorf("%w: %d bytes is more than any SSH signature", ErrMalformed, len(armored))
	}
	s := strings.TrimSpace(strings.ReplaceAll(string(armored), "\r\n", "\n"))
	body, ok := strings.CutPrefix(s, armorBegin)
	if !ok {
		return nil, fmt.Errorf("%w: does not start with %q", ErrMalformed, armorBegin)
	}
	body, ok = strings.CutSuffix(body, armorEnd)
	if !ok {
		return nil, fmt.Errorf("%w: does not end with %q", ErrMalformed, armorEnd)
	}
	body = strings.Join(strings.Fields(body), "")
	blob, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("%w: base64: %v", ErrMalformed, err)
	}
	return parseBlob(blob)
}

func parseBlob(blob []byte) (*Signature, error) {
	r := reader{b: blob}
	if string(r.take(len(magic))) != magic {
		return nil, fmt.Errorf("%w: missing %s preamble", ErrMalformed, magic)
	}
	v, ok := r.uint32()
	if !ok {
		return nil, fmt.Errorf("%w: truncated", ErrMalformed)
	}
	if v != sigVersion {
		return nil, fmt.Errorf("%w: version %d (this trove reads version %d)", ErrMalformed, v, sigVersion)
	}
	pubBytes := r.str()
	ns := r.str()
	_ = r.str() // reserved: ignored, as the spec asks
	hashAlg := r.str()
	sigBytes := r.str()
	if r.bad {
		return nil, fmt.Errorf("%w: truncated", ErrMalformed)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.b))
	}
	if len(ns) == 0 {
		return nil, fmt.Errorf("%w: empty namespace", ErrMalformed)
	}
	pub, err := ssh.ParsePublicKey(pubBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %v", ErrMalformed, err)
	}
	sr := reader{b: sigBytes}
	format := sr.str()
	sigBlob := sr.str()
	if sr.bad {
		return nil, fmt.Errorf("%w: truncated signature", ErrMalformed)
	}
	sig := &ssh.Signature{Format: string(format), Blob: sigBlob}
	if len(sr.b) > 0 {
		sig.Rest = sr.b
	}
	ha := string(hashAlg)
	if ha != hashSHA512 && ha != hashSHA256 {
		return nil, fmt.Errorf("%w: hash algorithm %q (want sha512 or sha256)", ErrMalformed, ha)
	}
	return &Signature{PublicKey: pub, Namespace: string(ns), HashAlgorithm: ha, Signature: sig}, nil
}

// Verify checks that armored is a valid signature of message in namespace and
// returns the public key that made it. It says nothing about whether that key is
// trusted: look it up in an AllowedSigners, or use AllowedSigners.Verify.
//
// Errors wrap ErrMalformed, ErrNamespace, ErrUnsupportedKey or ErrBadSignature.
func Verify(armored, message []byte, namespace string) (ssh.PublicKey, error) {
	s, err := ParseSignature(armored)
	if err != nil {
		return nil, err
	}
	if err := s.verify(message, namespace); err != nil {
		return nil, err
	}
	return s.PublicKey, nil
}

func (s *Signature) verify(message []byte, namespace string) error {
	if namespace == "" {
		return errors.New("verify: namespace must not be empty")
	}
	if s.Namespace != namespace {
		return fmt.Errorf("%w: signature was made for namespace %q, want %q", ErrNamespace, s.Namespace, namespace)
	}
	if err := checkKey(s.PublicKey); err != nil {
		return err
	}
	if s.PublicKey.Type() == ssh.KeyAlgoRSA && s.Signature.Format != ssh.KeyAlgoRSASHA256 && s.Signature.Format != ssh.KeyAlgoRSASHA512 {
		return fmt.Errorf("%w: RSA signature algorithm %q (want rsa-sha2-512 or rsa-sha2-256)", ErrUnsupportedKey, s.Signature.Format)
	}
	data, err := signedData(s.Namespace, s.HashAlgorithm, message)
	if err != nil {
		return err
	}
	if err := s.PublicKey.Verify(data, s.Signature); err != nil {
		return fmt.Errorf("%w: key %s did not sign this message (%v)", ErrBadSignature, ssh.FingerprintSHA256(s.PublicKey), err)
	}
	return nil
}

// reader decodes SSH wire strings; after the first short read every call returns
// nil and bad is set.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) take(n int) []byte {
	if r.bad || n < 0 || n > len(r.b) {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) uint32() (uint32, bool) {
	b := r.take(4)
	if b == nil {
		return 0, false
	}
	return binary.BigEndian.Uint32(b), true
}

func (r *reader) str() []byte {
	n, ok := r.uint32()
	if !ok || uint64(n) > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	return r.take(int(n))
}
