package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemo runs scripts/demo.sh, the README's first command, with the binary
// under test: the newcomer's whole story (track, push, pull, train under trove
// run, a refused promotion, an approval, promotion, the report, the audit
// chain verified, a monitor breach) must keep working. Under `make test` it
// pushes to the real S3 server too.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo takes a while")
	}
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Fatal("ssh-keygen is needed for the demo's signing steps")
	}
	dir := filepath.Join(t.TempDir(), "demo")
	home := t.TempDir()
	cmd := exec.Command("bash", filepath.Join("..", "..", "scripts", "demo.sh"))
	cmd.Env = append(gitEnv(home), "TROVE="+troveBin(t), "DEMO_DIR="+dir, "TMPDIR="+t.TempDir())
	for _, k := range []string{"TROVE_TEST_S3_ENDPOINT", "TROVE_TEST_S3_ACCESS_KEY", "TROVE_TEST_S3_SECRET_KEY"} {
		if v := os.Getenv(k); v != "" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{
		"trove: error: promotion denied: model@v0.0.1 to production",
		"trove: promoted model@v0.0.1 to production",
		"result: verified",
		"trove: error: retrain recommended: model@v0.0.1 in production",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if os.Getenv("TROVE_TEST_S3_ENDPOINT") != "" && !strings.Contains(s, "trove remote add s3 ") {
		t.Errorf("the demo skipped its S3 step although a server is running")
	}
	for _, f := range []string{"repo/report.html", "repo/audit.tar", "retrain-event.json", "trove.prom"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the demo did not leave %s: %v", f, err)
		}
	}
	// The auditor's step: the bundle verifies with the binary alone, outside the repository.
	v := exec.Command(troveBin(t), "audit", "verify", "--bundle", filepath.Join(dir, "repo", "audit.tar"))
	v.Dir = t.TempDir()
	v.Env = gitEnv(home)
	if out, err := v.CombinedOutput(); err != nil {
		t.Errorf("trove audit verify --bundle: %v\n%s", err, out)
	}
}
