package main

// Fault tests against a real S3 server that the test itself starts, kills and
// restarts: versitygw, from TROVE_TEST_VERSITYGW (scripts/with-versitygw.sh sets it).
// Traffic goes through a small TCP proxy that kills the server once a chosen
// number of bytes has gone upstream, so "killed in the middle of a push" happens at
// the same point on every run.

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zeebo/blake3"
)

// troveBin returns a path that runs this test binary as trove (testscript.Main
// dispatches on the executable's name).
func troveBin(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "trove")
	if err := os.Symlink(self, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func needVersitygw(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("TROVE_TEST_VERSITYGW")
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("TROVE_TEST_VERSITYGW is not set: run the tests with `make test`")
		}
		t.Skip("no versitygw: run `make test`, which starts one")
	}
	return bin
}

type s3server struct {
	t       *testing.T
	bin     string
	dir     string
	port    string
	access  string
	secret  string
	mu      sync.Mutex
	cmd     *exec.Cmd
	logFile string
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

func (s *s3server) start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	log, err := os.OpenFile(s.logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(s.bin, "--access", s.access, "--secret", s.secret, "--port", "127.0.0.1:"+s.port, "--quiet", "posix", s.dir)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.cmd = cmd
	for i := 0; i < 300; i++ {
		if c, err := net.Dial("tcp", "127.0.0.1:"+s.port); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(s.logFile)
	s.t.Fatalf("versitygw did not start: %s", b)
}

func (s *s3server) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// proxy forwards 127.0.0.1:port to the server and calls onLimit once when more
// than limit bytes have gone upstream.
type proxy struct {
	ln      net.Listener
	up      atomic.Int64
	limit   atomic.Int64
	onLimit func()
	fired   atomic.Bool
	mu      sync.Mutex
	conns   []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	p.limit.Store(-1)
	t.Cleanup(func() { ln.Close(); p.closeAll() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c, target)
		}
	}()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) serve(c net.Conn, target string) {
	u, err := net.Dial("tcp", target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, c, u)
	p.mu.Unlock()
	go func() { io.Copy(c, u); c.Close() }()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			total := p.up.Add(int64(n))
			if lim := p.limit.Load(); lim >= 0 && total > lim && p.fired.CompareAndSwap(false, true) {
				p.onLimit()
				p.closeAll()
				return
			}
			if _, werr := u.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	u.Close()
	c.Close()
}

type runner struct {
	t   *testing.T
	bin string
	env []string
}

func (r runner) run(dir string, args ...string) (string, string, error) {
	cmd := exec.Command(r.bin, args...)
	cmd.Dir = dir
	cmd.Env = r.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func (r runner) must(dir string, args ...string) string {
	r.t.Helper()
	out, errs, err := r.run(dir, args...)
	if err != nil {
		r.t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(r.bin), strings.Join(args, " "), err, out, errs)
	}
	return out
}

func gitEnv(home string) []string {
	env := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com", "TZ=UTC"}
	return env
}

func b3file(t *testing.T, path string) string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := blake3.New()
	io.Copy(h, f)
	return fmt.Sprintf("blake3:%x", h.Sum(nil))
}

// TestPushSurvivesKilledServer: the S3 server dies in the middle of a push; the
// next push sends only what did not arrive, and a fresh clone pulls byte-identical
// data.
func TestPushSurvivesKilledServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own S3 server")
	}
	srv := &s3server{t: t, bin: needVersitygw(t), dir: t.TempDir(), port: freePort(t),
		access: "faultkey", secret: "faultsecret-" + fmt.Sprint(time.Now().UnixNano()), logFile: filepath.Join(t.TempDir(), "gw.log")}
	srv.start()
	defer srv.kill()
	px := startProxy(t, "127.0.0.1:"+srv.port)

	home := t.TempDir()
	env := append(gitEnv(home), "AWS_ACCESS_KEY_ID="+srv.access, "AWS_SECRET_ACCESS_KEY="+srv.secret)
	tr := runner{t: t, bin: troveBin(t), env: env}
	git := runner{t: t, bin: "git", env: env}

	repo := filepath.Join(t.TempDir(), "repo")
	os.MkdirAll(filepath.Join(repo, "data"), 0o755)
	git.must(repo, "init", "-q")
	tr.must(repo, "init")
	// ~100 MiB of random data: two packs, the first complete at 64 MiB.
	big := make([]byte, 100<<20)
	rand.Read(big)
	if err := os.WriteFile(filepath.Join(repo, "data", "weights.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	tr.must(repo, "add", "data/weights.bin", "--kind", "model")
	tr.must(repo, "remote", "add", "origin", "s3://faults/team", "--endpoint", "http://"+px.addr(), "--path-style", "--create-bucket")
	git.must(repo, "add", "-A")
	git.must(repo, "commit", "-qm", "weights")

	// Kill the server once 80 MiB went upstream: the first pack has arrived, the
	// second is in flight.
	px.onLimit = srv.kill
	px.limit.Store(px.up.Load() + 80<<20)
	_, errs, err := tr.run(repo, "push", "--jobs", "1")
	if err == nil {
		t.Fatalf("push succeeded although the server was killed; stderr:\n%s", errs)
	}
	if !strings.Contains(errs, "trove: error:") || strings.Contains(errs, srv.secret) {
		t.Fatalf("push failure message not in trove's format, or leaks the secret:\n%s", errs)
	}
	if !px.fired.Load() {
		t.Fatal("the proxy never killed the server")
	}

	srv.start()
	out := tr.must(repo, "push", "--jobs", "1", "--json")
	var res struct {
		Packs        int   `json:"packs"`
		SkippedPacks int   `json:"skipped_packs"`
		Bytes        int64 `json:"bytes"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("push --json: %v\n%s", err, out)
	}
	if res.Packs != 1 || res.SkippedPacks != 1 {
		t.Fatalf("second push sent %d packs and skipped %d; want 1 and 1 (what arrived is not sent again)", res.Packs, res.SkippedPacks)
	}

	clone := filepath.Join(t.TempDir(), "clone")
	git.must(filepath.Dir(clone), "clone", "-q", repo, clone)
	tr.must(clone, "pull")
	if got, want := b3file(t, filepath.Join(clone, "data", "weights.bin")), b3file(t, filepath.Join(repo, "data", "weights.bin")); got != want {
		t.Fatalf("pulled %s, want %s", got, want)
	}

	// Now alter a pack on the server's disk: a pull from another fresh clone must
	// fail with exit 3, name the object, and store nothing corrupt.
	var packs []string
	filepath.Walk(srv.dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".pack") {
			packs = append(packs, p)
		}
		return nil
	})
	if len(packs) != 2 {
		t.Fatalf("found %d packs on the server, want 2", len(packs))
	}
	for _, p := range packs {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt([]byte("XXXXXXXX"), 4096)
		f.Close()
	}
	clone2 := filepath.Join(t.TempDir(), "clone2")
	git.must(filepath.Dir(clone2), "clone", "-q", repo, clone2)
	_, errs, err = tr.run(clone2, "pull")
	if code := exitCode(err); code != 3 {
		t.Fatalf("pull of an altered pack exited %d, want 3; stderr:\n%s", code, errs)
	}
	if !strings.Contains(errs, ".pack") || !strings.Contains(errs, "does not match") {
		t.Fatalf("pull error does not name the altered object:\n%s", errs)
	}
	if _, err := os.Stat(filepath.Join(clone2, "data", "weights.bin")); err == nil {
		t.Fatal("a file was checked out from corrupt data")
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
