package local_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trove-dev/trove/remote"
	"github.com/trove-dev/trove/remote/local"
	"github.com/trove-dev/trove/remote/remotetest"
)

func newLocal(t *testing.T, dir string) *local.Local {
	t.Helper()
	l, err := local.New(dir)
	if err != nil {
		t.Fatalf("New(%q): %v", dir, err)
	}
	return l
}

func TestConformance(t *testing.T) {
	remotetest.Run(t, func(t *testing.T) remote.Remote {
		return newLocal(t, t.TempDir())
	})
}

// TestConformanceMissingRoot runs the suite on a directory that does not exist yet:
// the first Put creates it, and reads before that find nothing.
func TestConformanceMissingRoot(t *testing.T) {
	remotetest.Run(t, func(t *testing.T) remote.Remote {
		return newLocal(t, filepath.Join(t.TempDir(), "not", "yet"))
	})
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := local.New(file); err == nil {
		t.Error("New on a regular file succeeded")
	}
	if _, err := local.New(""); err == nil {
		t.Error("New(\"\") succeeded")
	}
	missing := filepath.Join(dir, "missing")
	l := newLocal(t, missing)
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("New created %s (stat: %v)", missing, err)
	}
	if got, want := l.String(), "file://"+filepath.ToSlash(missing); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	t.Chdir(dir)
	rel := newLocal(t, "sub")
	if rel.Dir() != filepath.Join(dir, "sub") {
		t.Errorf("Dir() of a relative path = %q, want it absolute", rel.Dir())
	}
}

func TestKeyValidation(t *testing.T) {
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{"packs/ab/abcd.pack", true},
		{"config", true},
		{"a.b/c-d_e", true},
		{".hidden/x", true},
		{".tmpx", true},
		{"x/.tmp", true},
		{"", false},
		{"/abs", false},
		{"/", false},
		{"a/", false},
		{"a//b", false},
		{"..", false},
		{"a/../b", false},
		{"a/..b", false},
		{"./a", false},
		{"a/./b", false},
		{"a\\b", false},
		{"a\x00b", false},
		{".tmp", false},
		{".tmp/put-123", false},
	} {
		t.Run(tc.key, func(t *testing.T) {
			dir := t.TempDir()
			l := newLocal(t, dir)
			err := l.Put(context.Background(), tc.key, strings.NewReader("x"), 1)
			if tc.ok {
				if err != nil {
					t.Fatalf("Put(%q) = %v, want success", tc.key, err)
				}
				if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(tc.key))); err != nil {
					t.Fatalf("Put(%q) stored no file where expected: %v", tc.key, err)
				}
				return
			}
			if !errors.Is(err, remote.ErrBadKey) {
				t.Fatalf("Put(%q) = %v, want ErrBadKey", tc.key, err)
			}
			if _, err := l.Stat(context.Background(), tc.key); !errors.Is(err, remote.ErrBadKey) {
				t.Fatalf("Stat(%q) = %v, want ErrBadKey", tc.key, err)
			}
		})
	}
}

// TestNoEscape checks that no key reaches outside the directory, whatever it says.
func TestNoEscape(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	l := newLocal(t, root)
	for _, key := range []string{"../outside", "a/../../outside", "/tmp/outside", "..\\outside"} {
		if err := l.Put(context.Background(), key, strings.NewReader("x"), 1); err == nil {
			t.Errorf("Put(%q) succeeded", key)
		}
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "root" {
			t.Errorf("found %s outside the remote", e.Name())
		}
	}
}

// TestListSkipsTemporaryFiles checks that a temporary file left by a crash is not an
// object.
func TestListSkipsTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	l := newLocal(t, dir)
	if err := l.Put(context.Background(), "packs/a", strings.NewReader("a"), 1); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".tmp", "put-crashed"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	var keys []string
	err := l.List(context.Background(), "", func(info remote.Info) error {
		keys = append(keys, info.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != "packs/a" {
		t.Fatalf("List = %q, want only packs/a", keys)
	}
}

// TestFailedPutLeavesNoTemporaryFile checks that a failed Put cleans up after itself.
func TestFailedPutLeavesNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	l := newLocal(t, dir)
	data := bytes.Repeat([]byte("x"), 100)
	if err := l.Put(context.Background(), "short", bytes.NewReader(data[:50]), 100); err == nil {
		t.Fatal("Put of a short reader succeeded")
	}
	entries, err := os.ReadDir(filepath.Join(dir, ".tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

// TestPutMode checks that objects are readable by others sharing the directory.
func TestPutMode(t *testing.T) {
	dir := t.TempDir()
	l := newLocal(t, dir)
	if err := l.Put(context.Background(), "k", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "k"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Fatalf("object mode = %v, want 0644", fi.Mode().Perm())
	}
}
