package governance

// SSH signing of registry tags, and the signing-key lookup shared with
// `trove approve`.
//
// A signed registry tag is exactly what `git tag -s` writes with
// gpg.format=ssh: the tag object's bytes ("object", "type", "tag", "tagger"
// headers, a blank line, the record) followed by the armored SSHSIG signature of
// those bytes in namespace "git". go-git's object.Tag writes its PGPSignature
// field right after the message, which is that layout, and reads it back
// (recognising "-----BEGIN SSH SIGNATURE-----"), so the record in the message is
// unchanged for every reader. `git verify-tag` checks it against
// gpg.ssh.allowedSignersFile (point it at .trove/allowed_signers), matching the
// principal through the key.
//
// Whether a tag is signed (World.TagSigning):
//
//	SignAuto    TROVE_SIGN_TAGS=1 means SignAlways, 0 SignNever; unset, tags
//	            are signed when a signing key is configured (SigningKey) and
//	            left unsigned, as before, when none is
//	SignAlways  a tag is signed or not written: no key is an error
//	SignNever   tags are unsigned
//
// A key that is configured but cannot be used (a missing file, an agent that
// does not hold it) is an error rather than a silently unsigned tag.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	formatcfg "github.com/go-git/go-git/v5/plumbing/format/config"
	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/crypto/ssh"

	tsign "github.com/trove-dev/trove/governance/sign"
)

// SigningMode says whether registry tags are signed; see World.TagSigning.
type SigningMode int

const (
	// SignAuto signs when a key is configured (TROVE_SIGN_TAGS overrides).
	SignAuto SigningMode = iota
	// SignAlways requires a signature.
	SignAlways
	// SignNever writes unsigned tags.
	SignNever
)

// ErrSigning: a signature is required, or a configured key cannot be used.
var ErrSigning = errors.New("cannot sign")

// SigningKey returns the signing key configured for the repository at root, as
// a reference for OpenSigningKey: TROVE_SIGNING_KEY from w's environment, else
// git's user.signingKey when gpg.format is ssh (otherwise user.signingKey names
// a GPG key, which trove does not use). source says where it came from, for
// messages; key is "" when none is configured.
func SigningKey(root string, w World) (key, source string, err error) {
	g, err := openGit(root)
	if err != nil {
		return "", "", err
	}
	key, source = signingKey(g, w)
	return key, source, nil
}

func signingKey(g *git.Repository, w World) (key, source string) {
	if k := strings.TrimSpace(w.getenv("TROVE_SIGNING_KEY")); k != "" {
		return k, "TROVE_SIGNING_KEY"
	}
	k := strings.TrimSpace(gitConfigValue(g, "user", "signingkey"))
	if k != "" && strings.EqualFold(strings.TrimSpace(gitConfigValue(g, "gpg", "format")), "ssh") {
		return k, "git config user.signingKey"
	}
	return "", ""
}

// gitConfigValue reads section.key from the repository's config, then the
// user's global one (go-git's merged config drops the raw options of the
// global file, so both are read here).
func gitConfigValue(g *git.Repository, section, key string) string {
	if cfg, err := g.Config(); err == nil {
		if v, ok := rawOption(cfg.Raw, section, key); ok {
			return v
		}
	}
	if cfg, err := config.LoadConfig(config.GlobalScope); err == nil {
		if v, ok := rawOption(cfg.Raw, section, key); ok {
			return v
		}
	}
	return ""
}

func rawOption(raw *formatcfg.Config, section, key string) (string, bool) {
	if raw == nil {
		return "", false
	}
	v, found := "", false
	for _, s := range raw.Sections {
		if s.IsName(section) && s.HasOption(key) {
			v, found = s.Option(key), true // the last one wins, as in git
		}
	}
	return v, found
}

// OpenSigningKey opens a signing key reference (a private key file, a public
// key file or literal whose private half is in ssh-agent; see tsign.OpenSigner)
// with the agent at SSH_AUTH_SOCK from w's environment. A leading "~/" is the
// HOME of w's environment. Close the closer when done signing.
func OpenSigningKey(ctx context.Context, w World, key string) (ssh.Signer, io.Closer, error) {
	if rest, ok := strings.CutPrefix(key, "~/"); ok {
		if home := w.getenv("HOME"); home != "" {
			key = strings.TrimSuffix(home, "/") + "/" + rest
		}
	}
	return tsign.OpenSigner(ctx, key, w.getenv("SSH_AUTH_SOCK"))
}

// tagSigner returns the signer for a registry tag, or nil for an unsigned one;
// call done when the tag is written.
func tagSigner(ctx context.Context, g *git.Repository, w World) (s ssh.Signer, done func(), err error) {
	nop := func() {}
	mode := w.TagSigning
	if mode == SignAuto {
		switch v := strings.ToLower(strings.TrimSpace(w.getenv("TROVE_SIGN_TAGS"))); v {
		case "", "auto":
		case "1", "true", "yes", "on", "always":
			mode = SignAlways
		case "0", "false", "no", "off", "never":
			mode = SignNever
		default:
			return nil, nop, fmt.Errorf("%w: TROVE_SIGN_TAGS=%q: want 1 (always sign), 0 (never) or unset (sign when a key is configured)", ErrSigning, v)
		}
	}
	if mode == SignNever {
		return nil, nop, nil
	}
	if w.TagSigner != nil {
		return w.TagSigner, nop, nil
	}
	key, source := signingKey(g, w)
	if key == "" {
		if mode == SignAlways {
			return nil, nop, fmt.Errorf("%w: signed tags are required and no signing key is configured: set TROVE_SIGNING_KEY, or git config gpg.format ssh and user.signingKey", ErrSigning)
		}
		return nil, nop, nil
	}
	signer, closer, err := OpenSigningKey(ctx, w, key)
	if err != nil {
		return nil, nop, fmt.Errorf("%w with the key from %s: %w (set TROVE_SIGN_TAGS=0 to write unsigned tags)", ErrSigning, source, err)
	}
	return signer, func() { closer.Close() }, nil
}

// writeSignedTag writes an annotated tag whose object carries an SSH signature
// (namespace "git") of its payload, as `git tag -s` does with gpg.format=ssh,
// and points refs/tags/name at it. An existing tag is git.ErrTagExists.
func writeSignedTag(g *git.Repository, name string, target plumbing.Hash, tagger object.Signature, msg string, signer ssh.Signer) error {
	rname := plumbing.NewTagReferenceName(name)
	if err := rname.Validate(); err != nil {
		return err
	}
	switch _, err := g.Storer.Reference(rname); {
	case err == nil:
		return git.ErrTagExists
	case !errors.Is(err, plumbing.ErrReferenceNotFound):
		return err
	}
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n" // else git would read the signature as part of the message
	}
	raw, err := g.Storer.EncodedObject(plumbing.AnyObject, target)
	if err != nil {
		return fmt.Errorf("tag target %s: %w", target, err)
	}
	tag := &object.Tag{Name: name, Tagger: tagger, Message: msg, TargetType: raw.Type(), Target: target}
	payload, err := encodedBytes(tag.EncodeWithoutSignature)
	if err != nil {
		return err
	}
	sig, err := tsign.SignTagPayload(signer, payload)
	if err != nil {
		return err
	}
	tag.PGPSignature = string(sig)
	obj := g.Storer.NewEncodedObject()
	if err := tag.Encode(obj); err != nil {
		return err
	}
	// What git verifies is the payload followed by the signature: check that
	// go-git wrote exactly that.
	full, err := objectBytes(obj)
	if err != nil {
		return err
	}
	if !bytes.Equal(full, append(payload, sig...)) {
		return errors.New("signed tag: the encoded object is not the payload followed by its signature")
	}
	h, err := g.Storer.SetEncodedObject(obj)
	if err != nil {
		return err
	}
	return g.Storer.SetReference(plumbing.NewHashReference(rname, h))
}

func encodedBytes(encode func(plumbing.EncodedObject) error) ([]byte, error) {
	var o plumbing.MemoryObject
	if err := encode(&o); err != nil {
		return nil, err
	}
	return objectBytes(&o)
}

func objectBytes(o plumbing.EncodedObject) ([]byte, error) {
	rd, err := o.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}
