// Package remote defines where trove's packs and indexes live when they are not on this
// machine: one small Remote interface, implemented by remote/local (a directory) and
// remote/s3 (any S3-compatible service), and checked by one conformance suite
// (remote/remotetest) that every implementation must pass.
package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Sentinel errors. Implementations wrap them with the operation and the key, bucket or
// credential source involved, so callers test with errors.Is and people read the context.
var (
	// ErrNotFound is returned (wrapped) when a key does not exist.
	ErrNotFound = errors.New("not found")
	// ErrBadKey is returned (wrapped) for a key that CheckKey rejects.
	ErrBadKey = errors.New("invalid key")
	// ErrInvalidRange is returned (wrapped) by Get for a negative offset, a length below
	// -1, or an offset past the end of the object.
	ErrInvalidRange = errors.New("invalid range")
	// ErrNoBucket is returned (wrapped) when the bucket or container behind a remote does
	// not exist; the message names it.
	ErrNoBucket = errors.New("bucket does not exist")
	// ErrAccessDenied is returned (wrapped) when the service refuses the credentials or
	// the operation; the message names the credential source, never the secret.
	ErrAccessDenied = errors.New("access denied")
)

// Info describes a stored object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Remote is a flat store of immutable objects addressed by slash-separated keys
// such as "packs/ab/abcd....pack". Implementations are safe for concurrent use.
// Every method that takes a key first checks it with CheckKey and returns an error
// wrapping ErrBadKey for one it rejects. Info.Key is always the key as the caller
// wrote it, without any bucket or prefix of the implementation.
type Remote interface {
	// Put stores exactly size bytes read from r under key. It is atomic: a reader
	// sees either no object or the whole object, never a prefix, even if Put is
	// interrupted. Putting a key that exists replaces it (callers only ever re-put
	// identical content, so this is idempotent).
	//
	// Put fails, and leaves no object, if r yields fewer than size bytes or returns
	// an error; it reads no more than size bytes. A cancelled ctx aborts the transfer and leaves no object.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get returns length bytes starting at offset; length -1 reads to the end.
	// A missing key gives an error matching ErrNotFound, from Get itself, not from
	// the first Read. A range that runs past the end is cut short at the end: the
	// body then holds fewer than length bytes and no error says so, so callers that
	// need exactly length bytes check what they read. offset == size gives an empty
	// body; offset > size, offset < 0 or length < -1 give ErrInvalidRange. The
	// caller closes the body.
	Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	// Stat returns the object's size and modification time, or ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)
	// List calls fn for every key that starts with prefix, in no particular order.
	// The prefix is a plain string prefix, not a directory: "packs/" matches
	// "packs/ab/x" but not "packsX". fn is called from one goroutine at a time.
	// An error returned by fn stops the listing and is returned.
	List(ctx context.Context, prefix string, fn func(Info) error) error
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// String describes the remote for people (URL without secrets).
	String() string
}

// CheckKey reports whether key is a valid remote key, returning an error wrapping
// ErrBadKey if not. A key is a non-empty, slash-separated relative path: it may not
// start or end with a slash, hold an empty segment ("a//b") or a "." segment, contain
// "..", a backslash or a NUL byte. Every implementation applies the same rule, so a
// key that works on one remote works on all of them and can never escape a directory.
func CheckKey(key string) error {
	why := ""
	switch {
	case key == "":
		why = "empty"
	case strings.HasPrefix(key, "/"):
		why = "absolute"
	case strings.Contains(key, ".."):
		why = `contains ".."`
	case strings.ContainsRune(key, '\\'):
		why = "contains a backslash"
	case strings.ContainsRune(key, 0):
		why = "contains a NUL byte"
	default:
		for seg := range strings.SplitSeq(key, "/") {
			if seg == "" {
				why = "has an empty segment"
				break
			}
			if seg == "." {
				why = `has a "." segment`
				break
			}
		}
	}
	if why != "" {
		return fmt.Errorf("%w %q: %s", ErrBadKey, key, why)
	}
	return nil
}

// CheckPrefix reports whether prefix is a valid List prefix, returning an error wrapping
// ErrBadKey if not. The empty prefix lists everything; otherwise a prefix follows the
// rules of CheckKey, except that it may end with a slash ("packs/") or in the middle of
// a segment ("packs/a").
func CheckPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := CheckKey(strings.TrimSuffix(prefix, "/")); err != nil {
		return fmt.Errorf("prefix: %w", err)
	}
	return nil
}

// CheckRange reports whether offset and length are a valid request for Get before the
// object's size is known: offset >= 0 and length >= -1. It returns an error wrapping
// ErrInvalidRange if not.
func CheckRange(offset, length int64) error {
	if offset < 0 || length < -1 {
		return fmt.Errorf("%w: offset %d, length %d", ErrInvalidRange, offset, length)
	}
	return nil
}
