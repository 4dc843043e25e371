package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trove-dev/trove/remote"
	"github.com/trove-dev/trove/remote/remotetest"
	"github.com/trove-dev/trove/remote/s3"
)

// server returns the test S3 server's endpoint and root credentials. Without one, it
// skips the test on a developer's machine and fails it in CI, where skipping would
// hide that the S3 remote went untested.
func server(t *testing.T) (endpoint, access, secret string) {
	t.Helper()
	endpoint = os.Getenv("TROVE_TEST_S3_ENDPOINT")
	if endpoint == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("S3 server not configured: run via make test")
		}
		t.Skip("TROVE_TEST_S3_ENDPOINT is not set: run `make test`, which starts versitygw (or scripts/with-versitygw.sh go test ./remote/s3/)")
	}
	return endpoint, os.Getenv("TROVE_TEST_S3_ACCESS_KEY"), os.Getenv("TROVE_TEST_S3_SECRET_KEY")
}

func randomBucket(t *testing.T) string {
	b := make([]byte, 8)
	rand.Read(b)
	return "trove-test-" + hex.EncodeToString(b)
}

// baseConfig returns a configuration for the test server and a fresh bucket name.
func baseConfig(t *testing.T) s3.Config {
	endpoint, access, secret := server(t)
	return s3.Config{
		Endpoint:  endpoint,
		Bucket:    randomBucket(t),
		Region:    "us-east-1",
		PathStyle: true,
		Insecure:  true,
		AccessKey: access,
		SecretKey: secret,
	}
}

func mustNew(t *testing.T, cfg s3.Config) *s3.S3 {
	t.Helper()
	r, err := s3.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// newBucket returns a remote on a new, empty bucket that is removed after the test.
func newBucket(t *testing.T, cfg s3.Config) *s3.S3 {
	t.Helper()
	r := mustNew(t, cfg)
	if err := r.MakeBucket(t.Context()); err != nil {
		t.Fatalf("MakeBucket(%s): %v", cfg.Bucket, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.RemoveBucketForTest(ctx); err != nil {
			t.Logf("remove bucket %s: %v", cfg.Bucket, err)
		}
	})
	return r
}

func TestConformance(t *testing.T) {
	server(t)
	start := time.Now()
	remotetest.Run(t, func(t *testing.T) remote.Remote {
		return newBucket(t, baseConfig(t))
	})
	t.Logf("conformance suite took %v", time.Since(start).Round(time.Millisecond))
}

func TestConformanceWithPrefix(t *testing.T) {
	server(t)
	remotetest.Run(t, func(t *testing.T) remote.Remote {
		cfg := baseConfig(t)
		cfg.Prefix = "/team/datasets/"
		return newBucket(t, cfg)
	})
}

// TestPrefixesShareABucket checks that remotes with different prefixes in one bucket
// see only their own keys.
func TestPrefixesShareABucket(t *testing.T) {
	cfg := baseConfig(t)
	whole := newBucket(t, cfg)
	ctx := t.Context()
	remotes := map[string]*s3.S3{}
	for _, p := range []string{"a", "a/b", "ab"} {
		c := cfg
		c.Prefix = p
		remotes[p] = mustNew(t, c)
		if err := remotes[p].Put(ctx, "k", strings.NewReader(p), int64(len(p))); err != nil {
			t.Fatalf("Put under prefix %q: %v", p, err)
		}
	}
	for p, r := range remotes {
		var keys []string
		if err := r.List(ctx, "", func(info remote.Info) error { keys = append(keys, info.Key); return nil }); err != nil {
			t.Fatal(err)
		}
		// "a" also holds "b/k", the key of the remote with prefix "a/b".
		want := []string{"k"}
		if p == "a" {
			want = []string{"b/k", "k"}
		}
		slices.Sort(keys)
		if !slices.Equal(keys, want) {
			t.Errorf("prefix %q lists %q, want %q", p, keys, want)
		}
		if !strings.Contains(r.String(), "/"+p+" ") {
			t.Errorf("String() = %q, want the prefix %q in it", r.String(), p)
		}
	}
	var all []string
	if err := whole.List(ctx, "", func(info remote.Info) error { all = append(all, info.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(all)
	if want := []string{"a/b/k", "a/k", "ab/k"}; !slices.Equal(all, want) {
		t.Errorf("bucket holds %q, want %q", all, want)
	}
}

// TestBigPutIsMultipart checks that the conformance suite's big objects really take
// the multipart path: a multipart object's ETag ends in "-<number of parts>".
func TestBigPutIsMultipart(t *testing.T) {
	r := newBucket(t, baseConfig(t))
	ctx := t.Context()
	for _, tc := range []struct {
		size   int
		suffix string
	}{
		{s3.PartSize, ""},
		{remotetest.BigSize, "-2"},
	} {
		data := remotetest.Data(2, tc.size)
		if err := r.Put(ctx, "obj", bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatalf("Put %d bytes: %v", tc.size, err)
		}
		etag, err := r.ETagForTest(ctx, "obj")
		if err != nil {
			t.Fatal(err)
		}
		if multipart := strings.Contains(etag, "-"); multipart != (tc.suffix != "") || !strings.HasSuffix(etag, tc.suffix) {
			t.Errorf("%d bytes: ETag %q, want suffix %q", tc.size, etag, tc.suffix)
		}
	}
}

// TestFailedMultipartPutIsAborted checks that a large Put that fails leaves no
// multipart upload behind to be billed.
func TestFailedMultipartPutIsAborted(t *testing.T) {
	r := newBucket(t, baseConfig(t))
	ctx := t.Context()
	data := remotetest.Data(1, remotetest.BigSize)
	err := r.Put(ctx, "packs/big", strings.NewReader(string(data[:remotetest.BigSize-10])), remotetest.BigSize)
	if err == nil {
		t.Fatal("short multipart Put succeeded")
	}
	n, err := r.IncompleteUploadsForTest(ctx)
	if err != nil {
		t.Fatalf("list incomplete uploads: %v", err)
	}
	if n != 0 {
		t.Fatalf("%d incomplete uploads left behind", n)
	}
}

func TestWrongCredentials(t *testing.T) {
	good := baseConfig(t)
	newBucket(t, good)
	wrongSecret := "wrong-secret-" + randomBucket(t)
	for _, tc := range []struct {
		name string
		cfg  func(*s3.Config)
	}{
		{"WrongSecret", func(c *s3.Config) { c.SecretKey = wrongSecret }},
		{"UnknownAccessKey", func(c *s3.Config) { c.AccessKey = "nosuchkey" + c.AccessKey; c.SecretKey = wrongSecret }},
		{"FromEnvironment", func(c *s3.Config) {
			c.AccessKey, c.SecretKey = "", ""
			env := map[string]string{"AWS_ACCESS_KEY_ID": good.AccessKey, "AWS_SECRET_ACCESS_KEY": wrongSecret}
			c.Env = func(k string) string { return env[k] }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.cfg(&cfg)
			r := mustNew(t, cfg)
			ctx := t.Context()
			check := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, remote.ErrAccessDenied) {
					t.Errorf("%s = %v, want ErrAccessDenied", op, err)
					return
				}
				msg := err.Error()
				if strings.Contains(msg, wrongSecret) || strings.Contains(msg, good.SecretKey) {
					t.Errorf("%s error holds a secret: %s", op, msg)
				}
				if !strings.Contains(msg, r.CredentialSource()) {
					t.Errorf("%s error %q does not name the credential source %q", op, msg, r.CredentialSource())
				}
			}
			check("Put", r.Put(ctx, "k", strings.NewReader("x"), 1))
			_, err := r.Get(ctx, "k", 0, -1)
			check("Get", err)
			_, err = r.Stat(ctx, "k")
			if tc.name == "UnknownAccessKey" && errors.Is(err, remote.ErrNotFound) {
				// versitygw answers an unknown access key with 404, and a HEAD
				// response has no body to say why, so Stat cannot tell.
				t.Logf("Stat = %v (versitygw: 404 for an unknown access key)", err)
			} else {
				check("Stat", err)
			}
			check("List", r.List(ctx, "", func(remote.Info) error { return nil }))
			check("Delete", r.Delete(ctx, "k"))
			t.Logf("Put error: %v", r.Put(ctx, "k", strings.NewReader("x"), 1))
		})
	}
}

func TestMissingBucket(t *testing.T) {
	cfg := baseConfig(t)
	r := mustNew(t, cfg) // no MakeBucket
	ctx := t.Context()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, remote.ErrNoBucket) {
			t.Errorf("%s = %v, want ErrNoBucket", op, err)
			return
		}
		if !strings.Contains(err.Error(), cfg.Bucket) {
			t.Errorf("%s error %q does not name the bucket %s", op, err, cfg.Bucket)
		}
	}
	check("Put", r.Put(ctx, "k", strings.NewReader("x"), 1))
	_, err := r.Get(ctx, "k", 0, -1)
	check("Get", err)
	check("List", r.List(ctx, "", func(remote.Info) error { return nil }))
	// HEAD responses carry no error code, so Stat cannot tell a missing bucket from
	// a missing key; it reports the key missing (see the package doc).
	if _, err := r.Stat(ctx, "k"); !errors.Is(err, remote.ErrNotFound) && !errors.Is(err, remote.ErrNoBucket) {
		t.Errorf("Stat = %v, want ErrNotFound or ErrNoBucket", err)
	}
	t.Logf("Put error: %v", r.Put(ctx, "k", strings.NewReader("x"), 1))
}

func TestMakeBucketTwice(t *testing.T) {
	cfg := baseConfig(t)
	r := newBucket(t, cfg)
	if err := r.MakeBucket(t.Context()); err != nil {
		t.Fatalf("second MakeBucket: %v", err)
	}
}

// TestEndpointDown needs no server: it points at a port nothing listens on and
// checks that every operation fails within a bounded time.
func TestEndpointDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r, err := s3.New(t.Context(), s3.Config{
		Endpoint: addr, Bucket: "down", Region: "us-east-1", PathStyle: true, Insecure: true,
		AccessKey: "access", SecretKey: "secret-value",
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, op := range map[string]func(context.Context) error{
		"Put":  func(ctx context.Context) error { return r.Put(ctx, "k", strings.NewReader("x"), 1) },
		"Get":  func(ctx context.Context) error { _, err := r.Get(ctx, "k", 0, -1); return err },
		"Stat": func(ctx context.Context) error { _, err := r.Stat(ctx, "k"); return err },
		"List": func(ctx context.Context) error {
			return r.List(ctx, "", func(remote.Info) error { return nil })
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			start := time.Now()
			err := op(ctx)
			elapsed := time.Since(start)
			if err == nil {
				t.Fatal("succeeded against a closed port")
			}
			if errors.Is(err, remote.ErrNotFound) {
				t.Errorf("error %v matches ErrNotFound", err)
			}
			if elapsed > 10*time.Second {
				t.Errorf("took %v to fail", elapsed)
			}
			if strings.Contains(err.Error(), "secret-value") {
				t.Errorf("error holds the secret: %v", err)
			}
			t.Logf("failed after %v: %v", elapsed.Round(time.Millisecond), err)
		})
	}
}

// TestCredentialsAgainstServer checks each credential source end to end.
func TestCredentialsAgainstServer(t *testing.T) {
	good := baseConfig(t)
	newBucket(t, good)
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".aws"), 0o700); err != nil {
		t.Fatal(err)
	}
	file := "[default]\naws_access_key_id = nope\naws_secret_access_key = nope\n\n" +
		"[trove]\naws_access_key_id = " + good.AccessKey + "\naws_secret_access_key = " + good.SecretKey + "\n"
	if err := os.WriteFile(filepath.Join(home, ".aws", "credentials"), []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, source string
		env          map[string]string
		profile      string
	}{
		{"Environment", "environment (AWS_ACCESS_KEY_ID)",
			map[string]string{"AWS_ACCESS_KEY_ID": good.AccessKey, "AWS_SECRET_ACCESS_KEY": good.SecretKey, "HOME": home}, ""},
		{"SharedFileAWSProfile", "shared credentials file ~/.aws/credentials profile trove",
			map[string]string{"HOME": home, "AWS_PROFILE": "trove"}, ""},
		{"SharedFileConfigProfile", "shared credentials file ~/.aws/credentials profile trove",
			map[string]string{"HOME": home, "AWS_PROFILE": "default"}, "trove"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			cfg.AccessKey, cfg.SecretKey = "", ""
			cfg.Profile = tc.profile
			cfg.Env = func(k string) string { return tc.env[k] }
			r := mustNew(t, cfg)
			if r.CredentialSource() != tc.source {
				t.Errorf("CredentialSource() = %q, want %q", r.CredentialSource(), tc.source)
			}
			if err := r.Put(t.Context(), "k", strings.NewReader("x"), 1); err != nil {
				t.Fatalf("Put: %v", err)
			}
		})
	}
}
