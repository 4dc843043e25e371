package sign

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// maxKeyFile bounds what LoadPrivateKey reads.
const maxKeyFile = 1 << 20

var (
	// ErrEncryptedKey is returned (wrapped) for a passphrase-protected private key.
	// trove never prompts: the key belongs in ssh-agent.
	ErrEncryptedKey = errors.New("private key is encrypted")
	// ErrNoAgent is returned (wrapped) when a key must come from ssh-agent and no
	// agent socket was given.
	ErrNoAgent = errors.New("no ssh-agent")
	// ErrKeyNotInAgent is returned (wrapped) when the agent does not hold the key.
	ErrKeyNotInAgent = errors.New("key is not in ssh-agent")
)

// ParsePrivateKey parses an unencrypted private key (OpenSSH, PKCS#8, PKCS#1 or SEC 1
// PEM). An encrypted key gives an error wrapping ErrEncryptedKey.
func ParsePrivateKey(pemBytes []byte) (ssh.Signer, error) {
	s, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		var pm *ssh.PassphraseMissingError
		if errors.As(err, &pm) {
			return nil, fmt.Errorf("%w: trove does not ask for passphrases; add the key to ssh-agent (ssh-add) and make SSH_AUTH_SOCK point at the agent", ErrEncryptedKey)
		}
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	if err := checkKey(s.PublicKey()); err != nil {
		return nil, err
	}
	return s, nil
}

// LoadPrivateKey reads and parses an unencrypted private key file.
func LoadPrivateKey(path string) (ssh.Signer, error) {
	b, err := readSmall(path)
	if err != nil {
		return nil, err
	}
	s, err := ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	return s, nil
}

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("%s is larger than any key file", path)
	}
	return b, nil
}

// Agent is a connection to a running ssh-agent. It is not safe for concurrent use.
type Agent struct {
	conn   net.Conn
	client agent.ExtendedAgent
}

// DialAgent connects to the agent listening on socket (the value of SSH_AUTH_SOCK,
// which the caller reads from its environment and passes in).
func DialAgent(ctx context.Context, socket string) (*Agent, error) {
	if socket == "" {
		return nil, fmt.Errorf("%w: SSH_AUTH_SOCK is not set", ErrNoAgent)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, fmt.Errorf("%w: connect to %s: %v", ErrNoAgent, socket, err)
	}
	return &Agent{conn: conn, client: agent.NewClient(conn)}, nil
}

// Close closes the connection; signers obtained from the agent stop working.
func (a *Agent) Close() error { return a.conn.Close() }

// Signers returns a signer for every key the agent holds that trove can sign with
// (certificates and unsupported types are skipped).
func (a *Agent) Signers() ([]ssh.Signer, error) {
	all, err := a.client.Signers()
	if err != nil {
		return nil, fmt.Errorf("list ssh-agent keys: %w", err)
	}
	var out []ssh.Signer
	for _, s := range all {
		if checkKey(s.PublicKey()) == nil {
			out = append(out, s)
		}
	}
	return out, nil
}

// Signer returns the agent's signer for pub, or an error wrapping ErrKeyNotInAgent.
func (a *Agent) Signer(pub ssh.PublicKey) (ssh.Signer, error) {
	all, err := a.Signers()
	if err != nil {
		return nil, err
	}
	want := pub.Marshal()
	for _, s := range all {
		if bytes.Equal(s.PublicKey().Marshal(), want) {
			return s, nil
		}
	}
	return nil, fmt.Errorf("%w: %s %s (ssh-add it)", ErrKeyNotInAgent, pub.Type(), ssh.FingerprintSHA256(pub))
}

// OpenSigner finds a signing key the way git's user.signingKey does with
// gpg.format=ssh. key is one of:
//
//   - a path to an unencrypted private key file: it is used directly;
//   - a path to an encrypted private key, or to a public key (.pub) file: the
//     matching key is used through the agent at agentSocket;
//   - a literal public key, "ssh-ed25519 AAAA..." or "key::ssh-ed25519 AAAA...":
//     likewise through the agent.
//
// The returned closer releases the agent connection (a no-op for key files); close
// it when done signing.
func OpenSigner(ctx context.Context, key, agentSocket string) (ssh.Signer, io.Closer, error) {
	var pub ssh.PublicKey
	if literal, ok := strings.CutPrefix(key, "key::"); ok || strings.HasPrefix(key, "ssh-") {
		// git's rule: a signing key starting with "ssh-" or "key::" is a literal key.
		p, _, _, _, err := ssh.ParseAuthorizedKey([]byte(literal))
		if err != nil {
			return nil, nil, fmt.Errorf("signing key %q: not a public key: %v", key, err)
		}
		pub = p
	} else {
		b, err := readSmall(key)
		if err != nil {
			return nil, nil, fmt.Errorf("signing key: %w", err)
		}
		if p, _, _, _, err := ssh.ParseAuthorizedKey(b); err == nil {
			pub = p
		} else {
			s, err := ParsePrivateKey(b)
			if err == nil {
				return s, nopCloser{}, nil
			}
			var pm *ssh.PassphraseMissingError
			_, perr := ssh.ParsePrivateKey(b)
			if !errors.As(perr, &pm) || pm.PublicKey == nil || agentSocket == "" {
				return nil, nil, fmt.Errorf("key %s: %w", key, err)
			}
			pub = pm.PublicKey
		}
	}
	if err := checkKey(pub); err != nil {
		return nil, nil, err
	}
	a, err := DialAgent(ctx, agentSocket)
	if err != nil {
		return nil, nil, fmt.Errorf("signing key %s %s needs ssh-agent: %w", pub.Type(), ssh.FingerprintSHA256(pub), err)
	}
	s, err := a.Signer(pub)
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return s, a, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
