package main

// End-to-end tests: the scripts in testdata/script/*.txtar (Go's cmd/go style,
// github.com/rogpeppe/go-internal/testscript) drive the real CLI against real git
// repositories. Each script runs in its own directory with its own HOME, a fixed
// git identity and clock, and TZ=UTC, so it depends on nothing outside it.
//
// "trove" in a script is this test binary, copied onto PATH under that name by
// testscript.Main: `exec trove add data` starts a new process that runs the same
// run() as cmd/trove's main, so exit codes and both streams are the real ones, and
// `exec sh -c '... trove ...'` works too.
//
// Conditions added for the scripts: [s3], true when TROVE_TEST_S3_ENDPOINT is set.
//
// Commands added for the scripts (see scriptCmds):
//
//	exits CODE PROG [ARGS...]            run PROG like exec; fail unless it exits with CODE
//	gendata [-append] FILE SIZE [SEED]   deterministic pseudo-random bytes (SIZE: 100, 4KiB, 5MiB)
//	corrupt FILE OFFSET                  flip every bit of one byte (negative OFFSET: from the end)
//	truncate FILE SIZE                   cut or extend a file to SIZE bytes
//	capture VAR [FILE]                   set $VAR to FILE's first line, trimmed (FILE: default stdout)
//	jsonget FILE PATH                    print the JSON value at PATH (a.b.0.c) of FILE (or stdout)
//	numcmp A OP B                        compare integers; OP is one of < <= > >= == !=
//	mode FILE                            print the permission bits in octal, e.g. 0755
//	promparse FILE                       parse a Prometheus text file with Prometheus's parser; print
//	                                     each sample as name{label="v",...} value, sorted
//
// Run one script with: go test ./cmd/trove -run TestScript/add_file
// Keep the work directories with: go test ./cmd/trove -run TestScript -testwork

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"trove": func() { os.Exit(troveMain()) },
	})
}

// troveMain is what cmd/trove's main does, minus os.Exit.
func troveMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
}

func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "..", "testdata", "script"),
		Setup:               setupScript,
		Condition:           scriptCondition,
		Cmds:                scriptCmds,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
	})
}

// passThrough are the variables a script sees from the environment of `go test`;
// everything else is fixed by setupScript.
var passThrough = []string{
	"TROVE_TEST_S3_ENDPOINT",
	"TROVE_TEST_S3_ACCESS_KEY",
	"TROVE_TEST_S3_SECRET_KEY",
}

func setupScript(e *testscript.Env) error {
	home := filepath.Join(e.WorkDir, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return err
	}
	// Quiet, predictable git: no "default branch" advice, no system or user config.
	gitconfig := "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte(gitconfig), 0o644); err != nil {
		return err
	}
	const date = "2026-01-02T03:04:05Z"
	for _, kv := range [][2]string{
		{"HOME", home},
		{"XDG_CONFIG_HOME", filepath.Join(home, ".config")},
		{"GIT_CONFIG_NOSYSTEM", "1"},
		{"GIT_AUTHOR_NAME", "Trove Test"},
		{"GIT_AUTHOR_EMAIL", "test@trove.invalid"},
		{"GIT_COMMITTER_NAME", "Trove Test"},
		{"GIT_COMMITTER_EMAIL", "test@trove.invalid"},
		{"GIT_AUTHOR_DATE", date},
		{"GIT_COMMITTER_DATE", date},
		{"TZ", "UTC"},
		{"LC_ALL", "C"},
		{"TERM", "dumb"},
	} {
		e.Setenv(kv[0], kv[1])
	}
	for _, k := range passThrough {
		if v := os.Getenv(k); v != "" {
			e.Setenv(k, v)
		}
	}
	return nil
}

// scriptCondition adds [s3]: true when a test S3 server was passed in
// (scripts/with-versitygw.sh sets TROVE_TEST_S3_*), so a script can say
// `[!s3] skip 'no S3 server: run make test'`.
func scriptCondition(cond string) (bool, error) {
	switch cond {
	case "s3":
		return os.Getenv("TROVE_TEST_S3_ENDPOINT") != "", nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}

var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"exits":     cmdExits,
	"gendata":   cmdGendata,
	"corrupt":   cmdCorrupt,
	"truncate":  cmdTruncate,
	"capture":   cmdCapture,
	"jsonget":   cmdJSONGet,
	"numcmp":    cmdNumcmp,
	"mode":      cmdMode,
	"promparse": cmdPromParse,
}

// promparse FILE: the file must parse with Prometheus's own text parser
// (github.com/prometheus/common/expfmt); each sample is printed on a line.
func cmdPromParse(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: promparse FILE")
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(ts.ReadFile(args[0])))
	if neg {
		if err == nil {
			ts.Fatalf("promparse: %s parsed", args[0])
		}
		return
	}
	ts.Check(err)
	var lines []string
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			v := m.GetGauge().GetValue()
			if m.Counter != nil {
				v = m.GetCounter().GetValue()
			} else if m.Untyped != nil {
				v = m.GetUntyped().GetValue()
			}
			lines = append(lines, fmt.Sprintf("%s{%s} %s", name, strings.Join(ls, ","), strconv.FormatFloat(v, 'g', -1, 64)))
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Fprintln(ts.Stdout(), l)
	}
}

// exits CODE PROG [ARGS...]: testscript's `! exec` only says "failed"; trove's exit
// codes are part of its interface (usage 2, integrity 3, ...), so scripts pin them.
// stdout and stderr are kept for the following stdout/stderr commands.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exits: %v", err)
	}
	if got != want {
		ts.Fatalf("exits: %s exited with status %d, want %d", args[1], got, want)
	}
}

// parseSize reads 100, 4KiB, 5MiB, 1GiB (or KB/MB, decimal).
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mul    int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	mul := int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mul = n, u.mul
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mul, nil
}

// splitmix64 is a tiny, fixed PRNG: the bytes gendata writes must never change,
// whatever the Go version, because scripts compare sizes and dedup ratios.
type splitmix64 uint64

func (s *splitmix64) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// gendata [-append] FILE SIZE [SEED]
func cmdGendata(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! gendata")
	}
	appendTo := len(args) > 0 && args[0] == "-append"
	if appendTo {
		args = args[1:]
	}
	if len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: gendata [-append] FILE SIZE [SEED]")
	}
	size, err := parseSize(args[1])
	ts.Check(err)
	seed := splitmix64(1)
	if len(args) == 3 {
		for _, c := range []byte(args[2]) {
			seed = seed*31 + splitmix64(c)
		}
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if appendTo {
		flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	name := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(filepath.Dir(name), 0o755))
	f, err := os.OpenFile(name, flags, 0o644)
	ts.Check(err)
	buf := make([]byte, 0, 1<<16)
	for left := size; left > 0; {
		buf = buf[:0]
		for len(buf) < cap(buf) && int64(len(buf)) < left {
			v := seed.next()
			for i := 0; i < 8 && len(buf) < cap(buf); i++ {
				buf = append(buf, byte(v>>(8*i)))
			}
		}
		n := min(int64(len(buf)), left)
		_, err := f.Write(buf[:n])
		ts.Check(err)
		left -= n
	}
	ts.Check(f.Close())
}

// corrupt FILE OFFSET
func cmdCorrupt(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: corrupt FILE OFFSET")
	}
	name := ts.MkAbs(args[0])
	off, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	fi, err := os.Stat(name)
	ts.Check(err)
	if off < 0 {
		off += fi.Size()
	}
	if off < 0 || off >= fi.Size() {
		ts.Fatalf("corrupt: offset %s is outside %s (%d bytes)", args[1], args[0], fi.Size())
	}
	// Stores may write their files read-only; the point here is to damage one.
	ts.Check(os.Chmod(name, fi.Mode().Perm()|0o200))
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	ts.Check(err)
	b := []byte{0}
	_, err = f.ReadAt(b, off)
	ts.Check(err)
	b[0] ^= 0xff
	_, err = f.WriteAt(b, off)
	ts.Check(err)
	ts.Check(f.Close())
	ts.Check(os.Chmod(name, fi.Mode().Perm()))
}

// truncate FILE SIZE
func cmdTruncate(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: truncate FILE SIZE")
	}
	size, err := parseSize(args[1])
	ts.Check(err)
	ts.Check(os.Truncate(ts.MkAbs(args[0]), size))
}

// capture VAR [FILE]
func cmdCapture(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: capture VAR [FILE]")
	}
	src := "stdout"
	if len(args) == 2 {
		src = args[1]
	}
	line, _, _ := strings.Cut(ts.ReadFile(src), "\n")
	line = strings.TrimSpace(line)
	if line == "" {
		ts.Fatalf("capture: %s is empty", src)
	}
	ts.Setenv(args[0], line)
}

// jsonget FILE PATH: strings print raw, other values as compact JSON. A path that
// does not exist fails (or, with !, must not exist).
func cmdJSONGet(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: jsonget FILE PATH")
	}
	var v any
	if err := json.Unmarshal([]byte(ts.ReadFile(args[0])), &v); err != nil {
		ts.Fatalf("jsonget: %s: %v", args[0], err)
	}
	found := true
	if args[1] != "." {
		for _, key := range strings.Split(args[1], ".") {
			switch x := v.(type) {
			case map[string]any:
				v, found = x[key]
			case []any:
				i, err := strconv.Atoi(key)
				found = err == nil && i >= 0 && i < len(x)
				if found {
					v = x[i]
				}
			default:
				found = false
			}
			if !found {
				break
			}
		}
	}
	switch {
	case neg && found:
		ts.Fatalf("jsonget: %s has %s", args[0], args[1])
	case neg:
		return
	case !found:
		ts.Fatalf("jsonget: %s has no %s", args[0], args[1])
	}
	out, ok := v.(string)
	if !ok {
		b, err := json.Marshal(v)
		ts.Check(err)
		out = string(b)
	}
	fmt.Fprintln(ts.Stdout(), out)
}

// numcmp A OP B
func cmdNumcmp(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: numcmp A OP B")
	}
	a, err := strconv.ParseInt(strings.TrimSpace(args[0]), 10, 64)
	ts.Check(err)
	b, err := strconv.ParseInt(strings.TrimSpace(args[2]), 10, 64)
	ts.Check(err)
	var ok bool
	switch args[1] {
	case "<":
		ok = a < b
	case "<=":
		ok = a <= b
	case ">":
		ok = a > b
	case ">=":
		ok = a >= b
	case "==":
		ok = a == b
	case "!=":
		ok = a != b
	default:
		ts.Fatalf("numcmp: unknown operator %q", args[1])
	}
	if ok == neg {
		ts.Fatalf("numcmp: %d %s %d is %v", a, args[1], b, ok)
	}
}

// mode FILE
func cmdMode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mode FILE")
	}
	fi, err := os.Lstat(ts.MkAbs(args[0]))
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "%#o\n", fi.Mode().Perm())
}
