package governance

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"golang.org/x/crypto/ssh"
)

// withEnv returns tr's World with extra environment variables.
func withEnv(tr *testRepo, kv map[string]string) World {
	w := tr.w
	base := tr.w.Getenv
	w.Getenv = func(k string) string {
		if v, ok := kv[k]; ok {
			return v
		}
		return base(k)
	}
	return w
}

// gitVerifyTag runs `git verify-tag` with gpg.format=ssh against an
// allowed-signers file holding lines.
func gitVerifyTag(t *testing.T, tr *testRepo, tag, lines string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	allowed := filepath.Join(t.TempDir(), "allowed_signers")
	if err := os.WriteFile(allowed, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("git", "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+allowed, "verify-tag", tag)
	cmd.Dir = tr.dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tr.dir, "GIT_CONFIG_NOSYSTEM=1", "LC_ALL=C"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestSignedRegistryTags(t *testing.T) {
	needSSHKeygen(t)
	ctx := context.Background()
	tr := newTestRepo(t)
	keyPath, key := sshKey(t, t.TempDir(), "release")
	_, stranger := sshKey(t, t.TempDir(), "stranger")
	w := withEnv(tr, map[string]string{"TROVE_SIGNING_KEY": keyPath})
	// git matches the tagger's principal through the key: the tagger is
	// reg@example.com, from the World's environment.
	lines := `reg@example.com namespaces="git,trove" ` + pubOf(key) + "\n"

	res, err := Register(ctx, tr.r, w, RegisterOptions{Name: "m", Cwd: tr.dir, Message: "signed"})
	if err != nil {
		t.Fatal(err)
	}
	if res.SignedBy != ssh.FingerprintSHA256(key.PublicKey()) {
		t.Errorf("signed by %q", res.SignedBy)
	}
	if out, err := gitVerifyTag(t, tr, "m@v0.0.1", lines); err != nil || !strings.Contains(out, `Good "git" signature for reg@example.com`) {
		t.Fatalf("git verify-tag: %v\n%s", err, out)
	}
	// Another key, or the right key for another principal, does not verify.
	if out, err := gitVerifyTag(t, tr, "m@v0.0.1", "reg@example.com "+pubOf(stranger)+"\n"); err == nil {
		t.Errorf("git verify-tag accepted an unknown key:\n%s", out)
	}

	tr.now = tr.now.Add(time.Hour)
	res, err = Promote(ctx, tr.r, w, PromoteOptions{Ref: Ref{Name: "m", Version: "v0.0.1"}, Stage: "production", Stages: DefaultStages})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := gitVerifyTag(t, tr, res.Tag, lines); err != nil {
		t.Fatalf("git verify-tag %s: %v\n%s", res.Tag, err, out)
	}
	// The registry reads the records as before: the signature is not part of
	// the message.
	reg, err := ReadRegistry(tr.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(reg.Warnings) != 0 || len(reg.Events) != 2 || reg.Events[0].Record == nil || reg.Events[0].Record.Message != "signed" ||
		reg.Events[1].Record == nil || reg.Events[1].Record.Stage != "production" {
		t.Fatalf("registry: %+v %q", reg.Events, reg.Warnings)
	}
	ref, _ := tr.g.Tag(res.Tag)
	tag, err := tr.g.TagObject(ref.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tag.PGPSignature, "-----BEGIN SSH SIGNATURE-----\n") || strings.Contains(tag.Message, "SSH SIGNATURE") {
		t.Errorf("tag: message %q, signature %q", tag.Message, tag.PGPSignature)
	}

	// A caller-supplied signer wins over the configured key.
	w.TagSigner = stranger
	res, err = Deprecate(ctx, tr.r, w, DeprecateOptions{Ref: Ref{Name: "m", Version: "v0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.SignedBy != ssh.FingerprintSHA256(stranger.PublicKey()) {
		t.Errorf("signed by %s, want the TagSigner", res.SignedBy)
	}
	// An existing tag is still refused.
	if err := writeSignedTag(tr.g, "m@v0.0.1", tr.head, tag.Tagger, "x\n", key); err == nil {
		t.Error("overwrote an existing tag")
	}
}

func TestTagSigningModes(t *testing.T) {
	needSSHKeygen(t)
	ctx := context.Background()
	tr := newTestRepo(t)
	keyPath, key := sshKey(t, t.TempDir(), "release")
	promote := func(w World, stage string) (*TagResult, error) {
		return Promote(ctx, tr.r, w, PromoteOptions{Ref: Ref{Name: "m", Version: "v0.0.1"}, Stage: stage, Stages: DefaultStages})
	}
	if _, err := Register(ctx, tr.r, tr.w, RegisterOptions{Name: "m", Cwd: tr.dir}); err != nil {
		t.Fatal(err)
	}
	tagExists := func(name string) bool {
		_, err := tr.g.Reference(plumbing.NewTagReferenceName(name), false)
		return err == nil
	}

	// No key and no requirement: unsigned, as before.
	if res, err := promote(tr.w, "dev"); err != nil || res.SignedBy != "" {
		t.Fatalf("unsigned: %+v, %v", res, err)
	}
	// Required without a key: an error, and no tag.
	for _, w := range []World{withEnv(tr, map[string]string{"TROVE_SIGN_TAGS": "1"}), func() World { w := tr.w; w.TagSigning = SignAlways; return w }()} {
		if _, err := promote(w, "staging"); !errors.Is(err, ErrSigning) || !strings.Contains(err.Error(), "no signing key is configured") {
			t.Errorf("required without a key: %v", err)
		}
	}
	if tagExists("m#staging#2") {
		t.Error("a tag was written without the required signature")
	}
	// A bad TROVE_SIGN_TAGS is an error, not a guess.
	if _, err := promote(withEnv(tr, map[string]string{"TROVE_SIGN_TAGS": "maybe"}), "staging"); !errors.Is(err, ErrSigning) {
		t.Errorf("TROVE_SIGN_TAGS=maybe: %v", err)
	}
	// A configured key that cannot be opened is an error too.
	if _, err := promote(withEnv(tr, map[string]string{"TROVE_SIGNING_KEY": keyPath + ".missing"}), "staging"); !errors.Is(err, ErrSigning) ||
		!strings.Contains(err.Error(), "TROVE_SIGN_TAGS=0") {
		t.Errorf("missing key: %v", err)
	}
	// SignNever (or TROVE_SIGN_TAGS=0) ignores the key; the World's mode wins
	// over the environment.
	keyed := withEnv(tr, map[string]string{"TROVE_SIGNING_KEY": keyPath, "TROVE_SIGN_TAGS": "1"})
	keyed.TagSigning = SignNever
	if res, err := promote(keyed, "staging"); err != nil || res.SignedBy != "" {
		t.Errorf("SignNever: %+v, %v", res, err)
	}
	if res, err := promote(withEnv(tr, map[string]string{"TROVE_SIGNING_KEY": keyPath, "TROVE_SIGN_TAGS": "0"}), "production"); err != nil || res.SignedBy != "" {
		t.Errorf("TROVE_SIGN_TAGS=0: %+v, %v", res, err)
	}
	// "~/" is the World's HOME.
	home := filepath.Dir(keyPath)
	w := withEnv(tr, map[string]string{"TROVE_SIGNING_KEY": "~/release", "HOME": home})
	if res, err := Deprecate(ctx, tr.r, w, DeprecateOptions{Ref: Ref{Name: "m", Version: "v0.0.1"}}); err != nil || res.SignedBy != ssh.FingerprintSHA256(key.PublicKey()) {
		t.Errorf("~/ key: %+v, %v", res, err)
	}
}

func TestSigningKeyLookup(t *testing.T) {
	tr := newTestRepo(t)
	lookup := func(w World) (string, string) {
		t.Helper()
		k, src, err := SigningKey(tr.dir, w)
		if err != nil {
			t.Fatal(err)
		}
		return k, src
	}
	if k, _ := lookup(tr.w); k != "" {
		t.Errorf("nothing configured: %q", k)
	}
	cfgPath := filepath.Join(tr.dir, ".git", "config")
	orig, _ := os.ReadFile(cfgPath)
	// user.signingKey alone names a GPG key: not used.
	os.WriteFile(cfgPath, append(orig, "[user]\n\tsigningKey = ABCDEF0123456789\n"...), 0o644)
	if k, _ := lookup(tr.w); k != "" {
		t.Errorf("GPG signing key used: %q", k)
	}
	// With gpg.format=ssh it is the SSH key, as for git tag -s.
	os.WriteFile(cfgPath, append(orig, "[user]\n\tsigningkey = ~/.ssh/id_ed25519.pub\n[gpg]\n\tformat = SSH\n"...), 0o644)
	if k, src := lookup(tr.w); k != "~/.ssh/id_ed25519.pub" || src != "git config user.signingKey" {
		t.Errorf("git config: %q from %q", k, src)
	}
	// TROVE_SIGNING_KEY wins.
	if k, src := lookup(withEnv(tr, map[string]string{"TROVE_SIGNING_KEY": " /keys/ci "})); k != "/keys/ci" || src != "TROVE_SIGNING_KEY" {
		t.Errorf("env: %q from %q", k, src)
	}
	// The user's global config counts when the repository's says nothing.
	os.WriteFile(cfgPath, orig, 0o644)
	home := os.Getenv("HOME") // newTestRepo's own
	os.WriteFile(filepath.Join(home, ".gitconfig"), []byte("[gpg]\n\tformat = ssh\n[user]\n\tsigningKey = key::ssh-ed25519 AAAA\n"), 0o644)
	if k, _ := lookup(tr.w); k != "key::ssh-ed25519 AAAA" {
		t.Errorf("global config: %q", k)
	}
	// The repository's setting overrides the global one.
	os.WriteFile(cfgPath, append(orig, "[gpg]\n\tformat = openpgp\n"...), 0o644)
	if k, _ := lookup(tr.w); k != "" {
		t.Errorf("local gpg.format=openpgp: %q", k)
	}
}

// TestSigningWithAgent signs an approval and a tag with a key that only
// ssh-agent holds, named by its public key file, as git's user.signingKey does.
func TestSigningWithAgent(t *testing.T) {
	needSSHKeygen(t)
	for _, tool := range []string{"ssh-agent", "ssh-add"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	// Unix socket paths are short: t.TempDir() can be too long.
	d, err := os.MkdirTemp("", "trove-agent")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	sock := filepath.Join(d, "s")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	agent.Env = []string{"PATH=" + os.Getenv("PATH")}
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	f := newApprovalFixture(t)
	add := exec.Command("ssh-add", "-q", f.alicePath)
	add.Env = []string{"PATH=" + os.Getenv("PATH"), "SSH_AUTH_SOCK=" + sock}
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v\n%s", err, out)
	}
	// From now on only the agent can sign with it.
	if out, err := exec.Command("ssh-keygen", "-q", "-p", "-P", "", "-N", "pw", "-f", f.alicePath).CombinedOutput(); err != nil {
		t.Fatalf("encrypt the key: %v\n%s", err, out)
	}
	ctx := context.Background()
	w := withEnv(f.testRepo, map[string]string{"SSH_AUTH_SOCK": sock})
	for _, ref := range []string{f.alicePath + ".pub", f.alicePath} {
		signer, closer, err := OpenSigningKey(ctx, w, ref)
		if err != nil {
			t.Fatalf("OpenSigningKey(%s): %v", filepath.Base(ref), err)
		}
		res, err := Approve(ctx, f.r, w, ApproveOptions{Ref: Ref{Name: "m", Version: "v0.0.1"}, Stage: "production", Stages: DefaultStages,
			Principal: "alice@example.com", Signer: signer, Allowed: f.allowed(t, f.allowedLines)})
		closer.Close()
		if err != nil || res.Fingerprint != ssh.FingerprintSHA256(f.alice.PublicKey()) {
			t.Fatalf("approve through the agent: %+v, %v", res, err)
		}
	}
	if st := f.load(t, f.allowed(t, f.allowedLines), nil, f.now); len(st) != 2 || !st[0].Valid() || !st[1].Valid() {
		t.Errorf("approvals signed through the agent: %+v", st)
	}
	// Without the agent the encrypted key cannot sign: an error, never a prompt.
	if _, _, err := OpenSigningKey(ctx, f.w, f.alicePath); err == nil {
		t.Error("opened an encrypted key without ssh-agent")
	}
	// A registry tag signed through the agent.
	w = withEnv(f.testRepo, map[string]string{"SSH_AUTH_SOCK": sock, "TROVE_SIGNING_KEY": f.alicePath + ".pub"})
	res, err := Promote(ctx, f.r, w, PromoteOptions{Ref: Ref{Name: "m", Version: "v0.0.1"}, Stage: "staging", Stages: DefaultStages})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := gitVerifyTag(t, f.testRepo, res.Tag, "reg@example.com "+pubOf(f.alice)+"\n"); err != nil {
		t.Errorf("git verify-tag: %v\n%s", err, out)
	}
}
