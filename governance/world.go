package governance

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"golang.org/x/crypto/ssh"
)

// World is what the governance functions need from outside the process: the
// clock, the environment, a way to run programs and to read files. The CLI fills
// it from the real world (with TROVE_NOW overriding the clock for tests and
// replays); tests fill it with fakes. Library code never reads time.Now,
// os.Getenv or starts processes itself.
type World struct {
	// Now is the clock for every recorded time (lineage start and end, registry
	// records, tagger dates). Required.
	Now func() time.Time
	// Getenv looks up an environment variable ("" when unset). nil: nothing is
	// set.
	Getenv func(string) string
	// Runner starts programs: the step of `trove run` and the version probes of
	// the environment capture. nil: nothing can be run.
	Runner Runner
	// ReadFile reads a file of the machine (/proc/cpuinfo). nil: os.ReadFile.
	ReadFile func(string) ([]byte, error)
	// TagSigning says whether registry tags are SSH-signed (signing.go). The
	// zero value, SignAuto, reads TROVE_SIGN_TAGS from Getenv and otherwise
	// signs when a signing key is configured.
	TagSigning SigningMode
	// TagSigner, when set, signs registry tags (unless TagSigning is SignNever)
	// instead of the configured key; the caller opened it and closes it.
	TagSigner ssh.Signer
	// LockWait is how long appending to the audit chain waits for another
	// process's repository lock (manifest.Repo.Lock); zero: it does not wait.
	LockWait time.Duration
}

func (w World) now() time.Time {
	if w.Now == nil {
		return time.Unix(0, 0).UTC()
	}
	return w.Now().UTC()
}

func (w World) getenv(k string) string {
	if w.Getenv == nil {
		return ""
	}
	return w.Getenv(k)
}

func (w World) readFile(p string) ([]byte, error) {
	if w.ReadFile == nil {
		return os.ReadFile(p)
	}
	return w.ReadFile(p)
}

// Cmd is a program to run.
type Cmd struct {
	Args   []string // Args[0] is the program, looked up in PATH
	Dir    string   // working directory
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Runner runs a program to completion. Run returns the program's exit status
// (for a program killed by a signal, 128 plus the signal number, as shells
// report it) and a nil error once the program ran; an error wrapping
// ErrNotStarted when it could not be started (not found, not executable). When
// ctx is cancelled the program is asked to stop and Run returns ctx's error once
// it has. Implementations are safe for concurrent use.
type Runner interface {
	Run(ctx context.Context, c Cmd) (exit int, err error)
}

// ErrNotStarted: a program could not be started.
var ErrNotStarted = errors.New("cannot start the command")
