package governance

// The audit bundle: one tar an auditor verifies with the trove binary alone
// (`trove audit verify --bundle FILE.tar`), outside any repository.
//
//	README.txt                      what is inside and how to check it
//	chain/entries/NNNNNNNN.json     the chain, byte for byte as in AuditRef
//	chain/entries/NNNNNNNN.json.sig
//	evidence.json                   the rest of AuditEvidence (tags, the
//	                                allowed-signers file as of each entry's
//	                                commit, manifests, approvals, the trust
//	                                file's history); its "entries" is empty
//	allowed_signers                 .trove/allowed_signers at HEAD
//	transcript.txt, transcript.json the verification made in the repository,
//	                                including the checks a bundle cannot
//	                                repeat (bytes, lineage)
//	report.md, report.json          the report (when one was asked for)
//
// The chain's files are the source of truth for the entries; the evidence
// carries nothing that is not re-checked against them (every signer file is
// checked against the digest its entry signed).

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// MaxBundleMember bounds one file of a bundle.
const MaxBundleMember = 64 << 20

// ErrBadBundle: a bundle that cannot be read.
var ErrBadBundle = errors.New("invalid audit bundle")

// BundleFile is an extra file of a bundle (a report, a transcript).
type BundleFile struct {
	Name string
	Data []byte
}

const bundleReadme = `trove audit bundle

chain/entries/    the audit chain (refs/trove/audit), one canonical JSON entry
                  per act, each naming the digest of the one before it and
                  signed (NNNNNNNN.json.sig, SSHSIG, namespace "trove")
evidence.json     what checking the chain needs: registry tag records, the
                  allowed-signers file as of each entry's commit, manifests,
                  approvals, and the history of .trove/allowed_signers
allowed_signers   .trove/allowed_signers at HEAD when the bundle was made
transcript.txt    the verification made in the repository (also .json)
report.*          the model version's report

Verify it, anywhere, with the trove binary alone:

    trove audit verify --bundle THIS.tar

and check that a later bundle extends this one (no rewritten history):

    trove audit verify --bundle LATER.tar --since THIS.tar

A signature can also be checked without trove:

    ssh-keygen -Y verify -f allowed_signers -I PRINCIPAL -n trove \
        -s chain/entries/00000001.json.sig < chain/entries/00000001.json
`

// WriteAuditBundle writes a bundle of ev and the extra files to w. Member
// times are at, so the same inputs give the same bytes.
func WriteAuditBundle(w io.Writer, ev *AuditEvidence, at time.Time, extra []BundleFile) error {
	tw := tar.NewWriter(w)
	put := func(name string, data []byte) error {
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: at.UTC(), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := put("README.txt", []byte(bundleReadme)); err != nil {
		return err
	}
	for _, f := range ev.Entries {
		if err := put("chain/entries/"+f.Name, f.Data); err != nil {
			return err
		}
		if f.Sig != nil {
			if err := put("chain/entries/"+f.Name+".sig", f.Sig); err != nil {
				return err
			}
		}
		if f.Record != nil {
			if err := put("chain/entries/"+strings.TrimSuffix(f.Name, ".json")+".decision.json", f.Record); err != nil {
				return err
			}
		}
	}
	rest := *ev
	rest.Entries = []AuditFile{}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&rest); err != nil {
		return err
	}
	if err := put("evidence.json", b.Bytes()); err != nil {
		return err
	}
	if n := len(ev.SignersHistory); n > 0 {
		if err := put("allowed_signers", []byte(ev.SignersHistory[n-1].Signers)); err != nil {
			return err
		}
	}
	for _, f := range extra {
		if err := put(f.Name, f.Data); err != nil {
			return err
		}
	}
	return tw.Close()
}

// AuditBundle is a bundle, read.
type AuditBundle struct {
	Evidence *AuditEvidence
	// Files are the other members (transcript.json, report.md, ...).
	Files map[string][]byte
}

// ReadAuditBundle reads a bundle strictly: regular files only, no path that
// climbs out, each member at most MaxBundleMember, and the chain's entries
// from chain/entries/.
func ReadAuditBundle(r io.Reader) (*AuditBundle, error) {
	tr := tar.NewReader(r)
	b := &AuditBundle{Files: map[string][]byte{}}
	byName := map[string]*AuditFile{}
	var stray []string
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadBundle, err)
		}
		name := hdr.Name
		if hdr.Typeflag == tar.TypeDir {
			continue // tar -cf DIR adds them; they carry nothing
		}
		if hdr.Typeflag != tar.TypeReg || path.Clean(name) != name || strings.HasPrefix(name, "/") || strings.HasPrefix(name, "..") {
			return nil, fmt.Errorf("%w: member %q is not a plain file with a clean relative name", ErrBadBundle, name)
		}
		if hdr.Size > MaxBundleMember {
			return nil, fmt.Errorf("%w: member %q is %d bytes; the limit is %d", ErrBadBundle, name, hdr.Size, MaxBundleMember)
		}
		data, err := io.ReadAll(io.LimitReader(tr, MaxBundleMember))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadBundle, name, err)
		}
		if rest, ok := strings.CutPrefix(name, "chain/entries/"); ok {
			if !addAuditPart(byName, rest, data) {
				stray = append(stray, auditDir+"/"+rest)
			}
			continue
		}
		if _, dup := b.Files[name]; dup {
			return nil, fmt.Errorf("%w: member %q twice", ErrBadBundle, name)
		}
		b.Files[name] = data
	}
	raw, ok := b.Files["evidence.json"]
	if !ok {
		return nil, fmt.Errorf("%w: no evidence.json", ErrBadBundle)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var ev AuditEvidence
	if err := dec.Decode(&ev); err != nil {
		return nil, fmt.Errorf("%w: evidence.json: %v", ErrBadBundle, err)
	}
	if ev.Format != 1 {
		return nil, fmt.Errorf("%w: evidence.json format %d, want 1", ErrBadBundle, ev.Format)
	}
	ev.Entries = nil
	for _, f := range byName {
		ev.Entries = append(ev.Entries, *f)
	}
	sort.Slice(ev.Entries, func(i, j int) bool { return ev.Entries[i].Name < ev.Entries[j].Name })
	ev.Stray = append(ev.Stray, stray...)
	if ev.Commits == nil {
		ev.Commits = map[string]CommitEvidence{}
	}
	b.Evidence = &ev
	return b, nil
}

// BundleKnownHead is the last entry of a bundle's chain, for checking that a
// later chain extends it (--since).
func BundleKnownHead(b *AuditBundle, from string) *KnownHead {
	n := len(b.Evidence.Entries)
	if n == 0 {
		return nil
	}
	return &KnownHead{Seq: n, Digest: EntryDigest(b.Evidence.Entries[n-1].Data), From: from}
}
