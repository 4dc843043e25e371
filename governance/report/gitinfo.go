package report

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"golang.org/x/crypto/ssh"

	tsign "github.com/trove-dev/trove/governance/sign"
	"github.com/trove-dev/trove/manifest"
)

// gitInfo reads what the registry and the index do not carry: whether tags and
// commits are signed, whether a commit is in the clone, origin's URL.
type gitInfo struct {
	g *git.Repository
}

func openGit(root string) (*gitInfo, error) {
	g, err := git.PlainOpenWithOptions(root, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		if errors.Is(err, git.ErrRepositoryNotExists) {
			return nil, fmt.Errorf("%s: %w", root, manifest.ErrNotGitRepo)
		}
		return nil, fmt.Errorf("open git repository: %w", err)
	}
	return &gitInfo{g: g}, nil
}

// sigInfo is what an object's signature says before anyone verifies it.
type sigInfo struct {
	Status string // SignedNotVerified, Unsigned or NoObject
	Type   string // ssh, pgp, x509
	Key    string // the SSH key's SHA256 fingerprint, as the signature claims it
}

func signatureOf(armored string) sigInfo {
	s := strings.TrimSpace(armored)
	if s == "" {
		return sigInfo{Status: Unsigned}
	}
	si := sigInfo{Status: SignedNotVerified}
	switch {
	case strings.HasPrefix(s, "-----BEGIN SSH SIGNATURE-----"):
		si.Type = "ssh"
		if sig, err := tsign.ParseSignature([]byte(s)); err == nil {
			si.Key = ssh.FingerprintSHA256(sig.PublicKey)
		}
	case strings.HasPrefix(s, "-----BEGIN PGP"):
		si.Type = "pgp"
	case strings.HasPrefix(s, "-----BEGIN CERTIFICATE-----"), strings.HasPrefix(s, "-----BEGIN SIGNED MESSAGE-----"):
		si.Type = "x509"
	default:
		si.Type = "unknown"
	}
	return si
}

// tagSignature says whether the annotated tag carries a signature.
func (gi *gitInfo) tagSignature(name string) sigInfo {
	ref, err := gi.g.Tag(name)
	if err != nil {
		return sigInfo{Status: NoObject}
	}
	tag, err := gi.g.TagObject(ref.Hash())
	if err != nil {
		return sigInfo{Status: NoObject}
	}
	return signatureOf(tag.PGPSignature)
}

// commit is what the report says about a commit.
type commitInfo struct {
	Found     bool
	Author    string
	AuthorAt  string
	Committer string
	CommitAt  string
	Sig       sigInfo
}

func (gi *gitInfo) commit(hash string) commitInfo {
	if !plumbing.IsHash(hash) {
		return commitInfo{Sig: sigInfo{Status: NoObject}}
	}
	c, err := gi.g.CommitObject(plumbing.NewHash(hash))
	if err != nil {
		return commitInfo{Sig: sigInfo{Status: NoObject}}
	}
	return commitInfo{
		Found:     true,
		Author:    fmt.Sprintf("%s <%s>", c.Author.Name, c.Author.Email),
		AuthorAt:  stamp(c.Author.When),
		Committer: fmt.Sprintf("%s <%s>", c.Committer.Name, c.Committer.Email),
		CommitAt:  stamp(c.Committer.When),
		Sig:       signatureOf(c.PGPSignature),
	}
}

// remote returns origin's first URL without user information.
func (gi *gitInfo) remote() string {
	rem, err := gi.g.Remote("origin")
	if err != nil || len(rem.Config().URLs) == 0 {
		return ""
	}
	return stripCredentials(rem.Config().URLs[0])
}

func stripCredentials(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" && u.Host != "" {
		u.User = nil
		return u.String()
	}
	return raw
}
