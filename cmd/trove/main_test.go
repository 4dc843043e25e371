package main

// In-process tests of the CLI adapter: argument reordering and the mapping from
// outcomes to exit codes and messages. The end-to-end behaviour is pinned by the
// scripts (script_test.go); these cover what a script cannot set up
// deterministically, such as an interrupt at a known moment.

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestInterspersed(t *testing.T) {
	app := newApp(&env{})
	for _, tc := range []struct {
		in, want string
	}{
		{"trove", "trove"},
		{"trove status", "trove status"},
		{"trove add data --kind model", "trove add --kind model -- data"},
		{"trove add --kind=model a b --json", "trove add --kind=model --json -- a b"},
		{"trove add a --meta k=v --meta x=y b", "trove add --meta k=v --meta x=y -- a b"},
		// A boolean flag does not swallow the next argument.
		{"trove checkout --force a", "trove checkout --force -- a"},
		// After "--" everything is positional, and "--" itself is not an argument.
		{"trove add a -- --odd-name", "trove add -- a --odd-name"},
		{"trove add -- -x", "trove add -- -x"},
		{"trove add --", "trove add"},
		// A stray "-" (stdin, by convention) is positional.
		{"trove add -", "trove add -- -"},
		// Unknown commands are left for the app to report.
		{"trove frob --x y", "trove frob --x y"},
	} {
		got := strings.Join(interspersed(app, strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("interspersed(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// runTrove runs the CLI in-process in dir.
func runTrove(t *testing.T, ctx context.Context, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Chdir(dir)
	var out, errb bytes.Buffer
	code = run(ctx, append([]string{"trove"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunExitCodes(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
	}{
		{[]string{"version"}, exitOK, "trove ", ""},
		{[]string{"help"}, exitOK, "USAGE:", ""},
		{[]string{"frob"}, exitUsage, "", "trove: error: unknown command \"frob\"\ntrove: hint: "},
		{[]string{"status", "--frob"}, exitUsage, "", "trove: error: flag provided but not defined: -frob\n"},
		{[]string{"status"}, exitUsage, "", ": not a git repository\ntrove: hint: trove works inside a git repository"},
	} {
		code, stdout, stderr := runTrove(t, context.Background(), dir, tc.args...)
		if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("trove %s: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
				strings.Join(tc.args, " "), code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
		}
	}
}

// An interrupt (the signal context cancelled) ends add with exit 130, the
// "interrupted" message and no manifest; the next add finishes the job.
func TestRunInterrupted(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	cmd := exec.Command(git, "init", "-q", dir)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	if code, _, stderr := runTrove(t, context.Background(), dir, "init"); code != exitOK {
		t.Fatalf("trove init: exit %d\n%s", code, stderr)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 256<<10) // 4 MiB
	for i := range data {
		data[i] ^= byte(i * 7 >> 3)
	}
	if err := os.MkdirAll(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"big.bin", "d/a.bin", "d/b.bin"} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, path := range []string{"big.bin", "d"} {
		code, stdout, stderr := runTrove(t, ctx, dir, "add", path)
		if code != exitInterrupted {
			t.Errorf("add %s, interrupted: exit %d, want %d\nstdout: %s\nstderr: %s", path, code, exitInterrupted, stdout, stderr)
		}
		wantErr := "trove: error: interrupted\ntrove: hint: nothing was lost: run the command again to finish\n"
		if !strings.HasSuffix(stderr, wantErr) {
			t.Errorf("add %s, interrupted: stderr %q, want it to end with %q", path, stderr, wantErr)
		}
		if _, err := os.Stat(filepath.Join(dir, path+".trove")); err == nil {
			t.Errorf("add %s, interrupted: the manifest was written", path)
		}
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, ".trove", "store", "tmp")); len(tmp) > 0 {
		t.Errorf("interrupted add left %d temporary files in the store", len(tmp))
	}

	code, stdout, stderr := runTrove(t, context.Background(), dir, "add", "big.bin", "d", "--json", "-q")
	if code != exitOK {
		t.Fatalf("add after the interrupt: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, `"path": "big.bin"`) || !strings.Contains(stdout, `"path": "d"`) {
		t.Errorf("add after the interrupt: stdout %s", stdout)
	}
	code, stdout, _ = runTrove(t, context.Background(), dir, "status", "--json")
	if code != exitOK || strings.Count(stdout, `"state": "ok"`) != 2 {
		t.Errorf("status after the interrupt: exit %d\n%s", code, stdout)
	}
	if got := slices.Sorted(slices.Values(strings.Fields(readFile(t, filepath.Join(dir, ".gitignore"))))); !slices.Equal(got, []string{"/big.bin", "/d"}) {
		t.Errorf(".gitignore = %q", got)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
