package s3_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trove-dev/trove/remote/s3"
)

// These tests need no server: New sends no request.

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestCredentialSource(t *testing.T) {
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".aws", "credentials"),
		"[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = default-secret\n\n"+
			"[work]\naws_access_key_id = AKIDWORK\naws_secret_access_key = work-secret\naws_session_token = work-token\n")
	other := filepath.Join(t.TempDir(), "creds")
	writeFile(t, other, "[default]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = other-secret\n")

	for _, tc := range []struct {
		name    string
		cfg     s3.Config
		env     map[string]string
		want    string
		wantErr string
	}{
		{name: "Explicit", cfg: s3.Config{AccessKey: "AKID", SecretKey: "explicit-secret"},
			env: map[string]string{"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret"}, want: "configured access key"},
		{name: "ExplicitHalf", cfg: s3.Config{AccessKey: "AKID"}, wantErr: "together"},
		{name: "Environment", env: map[string]string{"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret", "HOME": home},
			want: "environment (AWS_ACCESS_KEY_ID)"},
		{name: "EnvironmentHalf", env: map[string]string{"AWS_ACCESS_KEY_ID": "AKIDENV"}, wantErr: "AWS_SECRET_ACCESS_KEY"},
		{name: "SharedFileDefault", env: map[string]string{"HOME": home},
			want: "shared credentials file ~/.aws/credentials profile default"},
		{name: "SharedFileAWSProfile", env: map[string]string{"HOME": home, "AWS_PROFILE": "work"},
			want: "shared credentials file ~/.aws/credentials profile work"},
		{name: "SharedFileConfigProfileWins", cfg: s3.Config{Profile: "work"}, env: map[string]string{"HOME": home, "AWS_PROFILE": "nope"},
			want: "shared credentials file ~/.aws/credentials profile work"},
		{name: "SharedFileNamedByEnv", env: map[string]string{"HOME": home, "AWS_SHARED_CREDENTIALS_FILE": other},
			want: "shared credentials file " + other + " profile default"},
		{name: "MissingProfile", cfg: s3.Config{Profile: "absent"}, env: map[string]string{"HOME": home}, wantErr: "absent"},
		{name: "MissingFileWithProfile", env: map[string]string{"HOME": t.TempDir(), "AWS_PROFILE": "work"}, wantErr: "work"},
		{name: "Anonymous", env: map[string]string{"HOME": t.TempDir()}, want: "none (anonymous requests)"},
		{name: "NilEnv", want: "none (anonymous requests)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Bucket = "bucket"
			if tc.env != nil {
				cfg.Env = envOf(tc.env)
			}
			r, err := s3.New(context.Background(), cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New = %v, want an error mentioning %q", err, tc.wantErr)
				}
				assertNoSecret(t, err.Error())
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got := r.CredentialSource(); got != tc.want {
				t.Errorf("CredentialSource() = %q, want %q", got, tc.want)
			}
			assertNoSecret(t, r.CredentialSource())
			assertNoSecret(t, r.String())
		})
	}
}

func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{"explicit-secret", "env-secret", "default-secret", "work-secret", "work-token", "other-secret"} {
		if strings.Contains(s, secret) {
			t.Errorf("%q holds the secret %q", s, secret)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestNewRejects(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, ca, "not a certificate")
	for _, tc := range []struct {
		name string
		cfg  s3.Config
		want string
	}{
		{"NoBucket", s3.Config{}, "bucket"},
		{"BadBucket", s3.Config{Bucket: "bad bucket!"}, "bucket"},
		{"Scheme", s3.Config{Bucket: "bkt", Endpoint: "https://s3.example.com"}, "without a scheme"},
		{"Path", s3.Config{Bucket: "bkt", Endpoint: "s3.example.com/x"}, "host[:port]"},
		{"BadPrefix", s3.Config{Bucket: "bkt", Prefix: "a/../b"}, "prefix"},
		{"CAFileMissing", s3.Config{Bucket: "bkt", CAFile: filepath.Join(t.TempDir(), "none.pem")}, "CA file"},
		{"CAFileNotPEM", s3.Config{Bucket: "bkt", CAFile: ca}, "no PEM certificate"},
		{"CAFileWithHTTP", s3.Config{Bucket: "bkt", CAFile: ca, Insecure: true}, "HTTPS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s3.New(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct {
		cfg  s3.Config
		want string
	}{
		{s3.Config{Bucket: "bkt"}, "s3://bkt"},
		{s3.Config{Bucket: "bkt", Prefix: "/x/y/"}, "s3://bkt/x/y"},
		{s3.Config{Bucket: "bkt", Endpoint: "127.0.0.1:9000", Insecure: true}, "s3://bkt at http://127.0.0.1:9000"},
		{s3.Config{Bucket: "bkt", Endpoint: "minio.example.com", Prefix: "p"}, "s3://bkt/p at https://minio.example.com"},
	} {
		tc.cfg.AccessKey, tc.cfg.SecretKey, tc.cfg.SessionToken = "AKID", "the-secret", "the-token"
		r, err := s3.New(context.Background(), tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if r.String() != tc.want {
			t.Errorf("String() = %q, want %q", r.String(), tc.want)
		}
	}
}
