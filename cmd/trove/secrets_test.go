package main

// Credentials never appear in trove's output, errors, or anything it writes: every
// command that touches S3 runs with the test secret (right and wrong), and all of
// stdout, stderr and every file in the repository (config, caches, store) are
// searched for it.

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecretsNeverLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("talks to the S3 server")
	}
	endpoint := os.Getenv("TROVE_TEST_S3_ENDPOINT")
	if endpoint == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("TROVE_TEST_S3_ENDPOINT is not set: run the tests with `make test`")
		}
		t.Skip("no S3 server: run `make test`, which starts versitygw")
	}
	secret := os.Getenv("TROVE_TEST_S3_SECRET_KEY")
	wrong := "wrong-" + secret + "-wrong"
	home := t.TempDir()
	base := gitEnv(home)
	good := append(append([]string{}, base...), "AWS_ACCESS_KEY_ID="+os.Getenv("TROVE_TEST_S3_ACCESS_KEY"), "AWS_SECRET_ACCESS_KEY="+secret)
	bad := append(append([]string{}, base...), "AWS_ACCESS_KEY_ID="+os.Getenv("TROVE_TEST_S3_ACCESS_KEY"), "AWS_SECRET_ACCESS_KEY="+wrong)
	// A shared credentials file too, read through AWS_PROFILE.
	os.MkdirAll(filepath.Join(home, ".aws"), 0o700)
	os.WriteFile(filepath.Join(home, ".aws", "credentials"), []byte("[leaky]\naws_access_key_id = "+os.Getenv("TROVE_TEST_S3_ACCESS_KEY")+"\naws_secret_access_key = "+secret+"\n"), 0o600)
	profile := append(append([]string{}, base...), "AWS_PROFILE=leaky")

	bin := troveBin(t)
	repo := filepath.Join(t.TempDir(), "repo")
	os.MkdirAll(filepath.Join(repo, "data"), 0o755)
	g := runner{t: t, bin: "git", env: base}
	g.must(repo, "init", "-q")
	var all bytes.Buffer
	run := func(env []string, args ...string) {
		r := runner{t: t, bin: bin, env: env}
		out, errs, _ := r.run(repo, args...)
		all.WriteString(out)
		all.WriteString(errs)
	}
	run(good, "init")
	os.WriteFile(filepath.Join(repo, "data", "a.bin"), bytes.Repeat([]byte("trove"), 100000), 0o644)
	run(good, "add", "data/a.bin")
	bucket := "secrets" + strings.ToLower(filepath.Base(t.TempDir()))
	bucket = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, bucket)
	run(good, "remote", "add", "origin", "s3://"+bucket+"/p", "--endpoint", "http://"+endpoint, "--path-style", "--create-bucket")
	for _, env := range [][]string{good, bad, profile} {
		run(env, "push")
		run(env, "push", "--json")
		run(env, "fetch", "--json")
		run(env, "pull")
		run(env, "verify", "--remote", "origin", "--deep", "--json")
		run(env, "gc", "--remote", "origin", "--dry-run", "--json")
		run(env, "remote", "list", "--json")
	}
	// A URL with credentials in it is refused, and not echoed.
	run(good, "remote", "add", "x", "s3://AKID:"+secret+"@bucket/p")
	if !strings.Contains(all.String(), "access denied") {
		t.Fatalf("the wrong secret was never refused; outputs:\n%s", all.String())
	}
	if strings.Contains(all.String(), secret) {
		t.Fatalf("the secret appears in trove's output:\n%s", all.String())
	}
	filepath.Walk(repo, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || strings.Contains(p, string(filepath.Separator)+".git"+string(filepath.Separator)) {
			return nil
		}
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("the secret was written to %s", p)
		}
		return nil
	})
}
