package sign

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// These tests run the real ssh-keygen, ssh-agent and git: the point of the SSHSIG
// format is that stock OpenSSH and git check what trove signs, and the other way
// round.

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed; CI must run the interop tests", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// run runs a command with a minimal, hermetic environment plus env, feeding stdin.
func run(t *testing.T, dir string, stdin []byte, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"), "LC_ALL=C"}, env...)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustRun(t *testing.T, dir string, stdin []byte, env []string, name string, args ...string) string {
	t.Helper()
	out, err := run(t, dir, stdin, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// keygen makes a key with ssh-keygen and returns the private key path.
func keygen(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	mustRun(t, dir, nil, nil, "ssh-keygen", append([]string{"-q", "-N", "", "-C", name, "-f", path}, args...)...)
	return path
}

func pubLine(t *testing.T, keyPath string) string {
	t.Helper()
	b, err := os.ReadFile(keyPath + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestInteropSSHKeygen(t *testing.T) {
	needTool(t, "ssh-keygen")
	dir := t.TempDir()
	msg := []byte("promote churn@v1.2.0 to production\n")
	msgPath := filepath.Join(dir, "msg")
	if err := os.WriteFile(msgPath, msg, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, kt := range []struct {
		name          string
		args          []string
		deterministic bool // ed25519 and RSA PKCS#1 v1.5 signatures are
	}{
		{"ed25519", []string{"-t", "ed25519"}, true},
		{"ecdsa", []string{"-t", "ecdsa", "-b", "256"}, false},
		{"rsa", []string{"-t", "rsa", "-b", "2048"}, true},
	} {
		t.Run(kt.name, func(t *testing.T) {
			key := keygen(t, dir, kt.name, kt.args...)
			allowed := filepath.Join(dir, kt.name+".allowed")
			line := "alice@example.com " + pubLine(t, key) + "\n"
			if err := os.WriteFile(allowed, []byte(line), 0o644); err != nil {
				t.Fatal(err)
			}
			signer, err := LoadPrivateKey(key)
			if err != nil {
				t.Fatal(err)
			}

			// trove signs, ssh-keygen verifies.
			sig, err := Sign(signer, Namespace, msg)
			if err != nil {
				t.Fatal(err)
			}
			sigPath := filepath.Join(dir, kt.name+".trove.sig")
			if err := os.WriteFile(sigPath, sig, 0o644); err != nil {
				t.Fatal(err)
			}
			out := mustRun(t, dir, msg, nil, "ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "alice@example.com", "-n", "trove", "-s", sigPath)
			if !strings.Contains(out, `Good "trove" signature for alice@example.com`) {
				t.Fatalf("ssh-keygen -Y verify said:\n%s", out)
			}
			// ssh-keygen refuses it for another namespace, message or principal.
			if out, err := run(t, dir, msg, nil, "ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "alice@example.com", "-n", "git", "-s", sigPath); err == nil {
				t.Fatalf("ssh-keygen accepted the wrong namespace:\n%s", out)
			}
			if out, err := run(t, dir, append(msg, '!'), nil, "ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "alice@example.com", "-n", "trove", "-s", sigPath); err == nil {
				t.Fatalf("ssh-keygen accepted another message:\n%s", out)
			}
			if out, err := run(t, dir, msg, nil, "ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "bob@example.com", "-n", "trove", "-s", sigPath); err == nil {
				t.Fatalf("ssh-keygen accepted another principal:\n%s", out)
			}

			// ssh-keygen signs, trove verifies.
			mustRun(t, dir, nil, nil, "ssh-keygen", "-q", "-Y", "sign", "-f", key, "-n", "trove", msgPath)
			theirs, err := os.ReadFile(msgPath + ".sig")
			if err != nil {
				t.Fatal(err)
			}
			os.Remove(msgPath + ".sig")
			if kt.deterministic && !bytes.Equal(theirs, sig) {
				t.Errorf("trove's signature differs from ssh-keygen's:\n%s\nssh-keygen:\n%s", sig, theirs)
			}
			pub, err := Verify(theirs, msg, Namespace)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pub.Marshal(), signer.PublicKey().Marshal()) {
				t.Fatal("wrong key")
			}
			as, err := ParseAllowedSigners("allowed_signers", []byte(line))
			if err != nil {
				t.Fatal(err)
			}
			v, err := as.Verify(theirs, msg, Namespace, "alice@example.com", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if v.Fingerprint != ssh.FingerprintSHA256(pub) {
				t.Fatalf("fingerprint %s", v.Fingerprint)
			}
			if _, err := Verify(theirs, msg, "file"); !errors.Is(err, ErrNamespace) {
				t.Fatalf("wrong namespace: %v", err)
			}
			if _, err := Verify(theirs, []byte("other"), Namespace); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("wrong message: %v", err)
			}
			other := keygen(t, dir, kt.name+"-other", kt.args...)
			unknown, _ := ParseAllowedSigners("allowed_signers", []byte("alice@example.com "+pubLine(t, other)+"\n"))
			if _, err := unknown.Verify(theirs, msg, Namespace, "alice@example.com", time.Now()); !errors.Is(err, ErrUnknownSigner) || !strings.Contains(err.Error(), "is not in the allowed-signers file") {
				t.Fatalf("unknown key: %v", err)
			}
		})
	}
}

func TestEncryptedKeyFile(t *testing.T) {
	needTool(t, "ssh-keygen")
	dir := t.TempDir()
	key := filepath.Join(dir, "enc")
	mustRun(t, dir, nil, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", key)
	_, err := LoadPrivateKey(key)
	if !errors.Is(err, ErrEncryptedKey) || !strings.Contains(err.Error(), "ssh-agent") {
		t.Fatalf("err = %v, want ErrEncryptedKey suggesting ssh-agent", err)
	}
	if _, _, err := OpenSigner(context.Background(), key, ""); !errors.Is(err, ErrEncryptedKey) {
		t.Fatalf("OpenSigner without agent: %v", err)
	}
}

// startAgent starts a real ssh-agent on a fresh socket and returns the socket path.
func startAgent(t *testing.T) string {
	t.Helper()
	needTool(t, "ssh-agent")
	// Unix socket paths are short (108 bytes): t.TempDir() can be too long.
	d, err := os.MkdirTemp("", "trove-agent")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	sock := filepath.Join(d, "s")
	cmd := exec.Command("ssh-agent", "-D", "-a", sock)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(sock); err == nil {
			return sock
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("ssh-agent did not create %s: %s", sock, out.String())
	return ""
}

func TestAgentSigning(t *testing.T) {
	needTool(t, "ssh-keygen")
	needTool(t, "ssh-add")
	sock := startAgent(t)
	dir := t.TempDir()
	env := []string{"SSH_AUTH_SOCK=" + sock}
	ctx := context.Background()
	msg := []byte("approval record\n")
	for _, kt := range []struct {
		name string
		args []string
	}{
		{"ed25519", []string{"-t", "ed25519"}},
		{"rsa", []string{"-t", "rsa", "-b", "2048"}},
	} {
		t.Run(kt.name, func(t *testing.T) {
			key := keygen(t, dir, "agent-"+kt.name, kt.args...)
			mustRun(t, dir, nil, env, "ssh-add", "-q", key)
			// Encrypt the file afterwards: from now on only the agent can sign.
			mustRun(t, dir, nil, nil, "ssh-keygen", "-q", "-p", "-P", "", "-N", "pw", "-f", key)
			allowed := filepath.Join(dir, kt.name+".allowed")
			if err := os.WriteFile(allowed, []byte("ci@example.com "+pubLine(t, key)+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, ref := range []string{key, key + ".pub", pubLine(t, key), "key::" + pubLine(t, key)} {
				s, closer, err := OpenSigner(ctx, ref, sock)
				if err != nil {
					t.Fatalf("OpenSigner(%.40s): %v", ref, err)
				}
				sig, err := Sign(s, Namespace, msg)
				closer.Close()
				if err != nil {
					t.Fatal(err)
				}
				sigPath := filepath.Join(dir, kt.name+".agent.sig")
				if err := os.WriteFile(sigPath, sig, 0o644); err != nil {
					t.Fatal(err)
				}
				mustRun(t, dir, msg, nil, "ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "ci@example.com", "-n", "trove", "-s", sigPath)
			}
		})
	}
	// A key the agent does not hold.
	other := keygen(t, dir, "not-in-agent", "-t", "ed25519")
	if _, _, err := OpenSigner(ctx, other+".pub", sock); !errors.Is(err, ErrKeyNotInAgent) {
		t.Fatalf("err = %v, want ErrKeyNotInAgent", err)
	}
	if _, _, err := OpenSigner(ctx, other+".pub", ""); !errors.Is(err, ErrNoAgent) {
		t.Fatalf("err = %v, want ErrNoAgent", err)
	}
	a, err := DialAgent(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	signers, err := a.Signers()
	if err != nil || len(signers) != 2 {
		t.Fatalf("agent signers: %d, %v", len(signers), err)
	}
}

// TestGitVerifyTag writes an annotated tag by hand, signs its payload with
// SignTagPayload and has git verify it with gpg.format=ssh.
func TestGitVerifyTag(t *testing.T) {
	needTool(t, "git")
	needTool(t, "ssh-keygen")
	dir := t.TempDir()
	// Never GIT_CONFIG_GLOBAL=/dev/null: a git command that writes global config
	// would replace /dev/null with a regular file (seen on this machine).
	env := []string{
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + filepath.Join(dir, "gitconfig"),
		"GIT_AUTHOR_NAME=Alice", "GIT_AUTHOR_EMAIL=alice@example.com", "GIT_AUTHOR_DATE=1700000000 +0000",
		"GIT_COMMITTER_NAME=Alice", "GIT_COMMITTER_EMAIL=alice@example.com", "GIT_COMMITTER_DATE=1700000000 +0000",
	}
	git := func(stdin []byte, args ...string) string {
		return strings.TrimSpace(mustRun(t, dir, stdin, env, "git", args...))
	}
	git(nil, "init", "-q", "-b", "main")
	git(nil, "commit", "-q", "--allow-empty", "-m", "init")
	commit := git(nil, "rev-parse", "HEAD")

	key := keygen(t, dir, "tagkey", "-t", "ed25519")
	signer, err := LoadPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	allowed := filepath.Join(dir, "allowed_signers")
	if err := os.WriteFile(allowed, []byte(`alice@example.com namespaces="git,trove" `+pubLine(t, key)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(nil, "config", "gpg.format", "ssh")
	git(nil, "config", "gpg.ssh.allowedSignersFile", allowed)

	writeTag := func(name string, s ssh.Signer) {
		payload := fmt.Sprintf("object %s\ntype commit\ntag %s\ntagger Alice <alice@example.com> 1700000000 +0000\n\n"+
			"{\"model\":\"churn\",\"stage\":\"production\"}\n", commit, name)
		sig, err := SignTagPayload(s, []byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		id := git(append([]byte(payload), sig...), "mktag")
		git(nil, "update-ref", "refs/tags/"+name, id)
	}
	writeTag("churn#production#1", signer)
	out := mustRun(t, dir, nil, env, "git", "verify-tag", "churn#production#1")
	if !strings.Contains(out, `Good "git" signature for alice@example.com`) {
		t.Fatalf("git verify-tag said:\n%s", out)
	}

	// A tag signed by a key outside the allowed signers fails verification.
	stranger, err := LoadPrivateKey(keygen(t, dir, "stranger", "-t", "ed25519"))
	if err != nil {
		t.Fatal(err)
	}
	writeTag("churn#production#2", stranger)
	if out, err := run(t, dir, nil, env, "git", "verify-tag", "churn#production#2"); err == nil {
		t.Fatalf("git verify-tag accepted a stranger's signature:\n%s", out)
	}

	// A signature in trove's namespace is not a valid tag signature.
	payload := []byte("object " + commit + "\ntype commit\ntag x\ntagger Alice <alice@example.com> 1700000000 +0000\n\nx\n")
	sig, err := Sign(signer, Namespace, payload)
	if err != nil {
		t.Fatal(err)
	}
	id := git(append(payload, sig...), "mktag")
	git(nil, "update-ref", "refs/tags/x", id)
	if out, err := run(t, dir, nil, env, "git", "verify-tag", "x"); err == nil {
		t.Fatalf("git verify-tag accepted a trove-namespace signature:\n%s", out)
	}
}
