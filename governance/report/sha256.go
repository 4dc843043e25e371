package report

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/zeebo/blake3"

	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
)

// SHA256CacheDir is where SHA-256 digests are cached, one file per artifact
// version named by the hex of its BLAKE3 digest, holding the SHA-256 hex and a
// newline. It is local (under .trove/cache, never committed), and an entry is
// written only after the bytes it was computed from matched their BLAKE3.
const SHA256CacheDir = "cache/sha256"

var hex64 = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-f]{64}$`) })

// SHA256 returns the SHA-256 (64 lowercase hex digits) of an artifact version's
// content and where it came from (SHA256Computed or SHA256Cache). trove names
// content by BLAKE3; SHA-256 is computed only where a standard asks for it
// (attestation subjects, SBOM hashes), from the bytes in the local store, and
// then cached.
//
// For a file it is the SHA-256 of its bytes, as sha256sum prints it. For a
// directory it is the SHA-256 of the listing that sha256sum prints for its
// files, sorted by path, which is in-toto's dirHash:
//
//	cd DIR && find . -type f -printf '%P\n' | LC_ALL=C sort | xargs -r -d '\n' sha256sum -- | sha256sum
//
// the same construction as the directory's BLAKE3 digest with b3sum.
//
// While hashing it checks every byte against the manifest: the BLAKE3 of each
// file (and of the directory listing) must be the recorded digest, or the
// error wraps objects.ErrCorrupt and nothing is cached. Content that is not in
// the local store is an error wrapping objects.ErrMissing. With rehash, the
// cache is not read (it is still written).
func SHA256(ctx context.Context, r *manifest.Repo, st *objects.Store, m *manifest.Manifest, rehash bool) (string, string, error) {
	cache := filepath.Join(r.TroveDir(), filepath.FromSlash(SHA256CacheDir), m.Digest.Hex())
	if !rehash {
		if b, err := os.ReadFile(cache); err == nil {
			if s := strings.TrimSpace(string(b)); hex64().MatchString(s) {
				return s, SHA256Cache, nil
			}
		}
	}
	var sum string
	var err error
	if m.Type == manifest.TypeDir {
		sum, err = dirSHA256(ctx, st, m)
	} else {
		var b3 objects.ID
		var n int64
		sum, b3, n, err = contentSHA256(ctx, st, objects.TreeEntry{Digest: m.Digest, Size: m.Size, Recipe: m.Object})
		if err == nil && (b3 != m.Digest || n != m.Size) {
			err = fmt.Errorf("%w: the stored bytes of %s hash to %s (%d bytes), the manifest says %s (%d bytes)", objects.ErrCorrupt, m.Path, b3, n, m.Digest, m.Size)
		}
	}
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(filepath.Dir(cache), 0o755); err == nil {
		// A cache that cannot be written costs a re-hash next time, nothing more.
		_ = objects.WriteFileAtomic(cache, []byte(sum+"\n"), 0o644)
	}
	return sum, SHA256Computed, nil
}

// contentSHA256 reads one piece of content from the store and returns its
// SHA-256, BLAKE3 and length.
func contentSHA256(ctx context.Context, st *objects.Store, e objects.TreeEntry) (string, objects.ID, int64, error) {
	s := sha256.New()
	b := blake3.New()
	w := &both{s, b}
	var n int64
	var err error
	if e.Recipe.IsZero() {
		n, err = st.ReadInline(e.Digest, e.Size, w)
	} else {
		n, err = st.ReadContent(ctx, e.Recipe, w)
	}
	if err != nil {
		return "", objects.ID{}, 0, err
	}
	var id objects.ID
	b.Sum(id[:0])
	return hex.EncodeToString(s.Sum(nil)), id, n, nil
}

type both struct{ a, b hash.Hash }

func (w *both) Write(p []byte) (int, error) {
	w.a.Write(p)
	w.b.Write(p)
	return len(p), nil
}

func dirSHA256(ctx context.Context, st *objects.Store, m *manifest.Manifest) (string, error) {
	entries, err := manifest.LoadTree(ctx, st, m.Object)
	if err != nil {
		return "", fmt.Errorf("read the tree of %s: %w", m.Path, err)
	}
	if got := objects.TreeDigest(entries); got != m.Digest {
		return "", fmt.Errorf("%w: the stored tree of %s lists files whose digest is %s, the manifest says %s", objects.ErrCorrupt, m.Path, got, m.Digest)
	}
	listing := sha256.New()
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		sum, b3, n, err := contentSHA256(ctx, st, e)
		if err != nil {
			return "", fmt.Errorf("%s/%s: %w", m.Path, e.Path, err)
		}
		if b3 != e.Digest || n != e.Size {
			return "", fmt.Errorf("%w: the stored bytes of %s/%s hash to %s, the tree says %s", objects.ErrCorrupt, m.Path, e.Path, b3, e.Digest)
		}
		fmt.Fprintf(listing, "%s  %s\n", sum, e.Path)
	}
	return hex.EncodeToString(listing.Sum(nil)), nil
}

// notLocal reports whether err says the bytes are not in the local store.
func notLocal(err error) bool {
	return errors.Is(err, objects.ErrMissing) || errors.Is(err, fs.ErrNotExist)
}
