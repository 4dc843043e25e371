package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/trove-dev/trove/manifest"
	"github.com/trove-dev/trove/objects"
)

// Exit codes; the README lists them.
const (
	exitOK          = 0
	exitRuntime     = 1
	exitUsage       = 2
	exitIntegrity   = 3
	exitDenied      = 4
	exitInterrupted = 130
)

// cliError is an error with an exit code and hints for people.
type cliError struct {
	msg   string
	code  int
	hints []string
	err   error
}

func (e *cliError) Error() string { return e.msg }
func (e *cliError) Unwrap() error { return e.err }

func usageErr(msg string, hints ...string) error {
	return &cliError{msg: msg, code: exitUsage, hints: hints}
}

// classify maps library errors to an exit code and the hints that help.
func classify(err error) (int, []string) {
	var ce *cliError
	if errors.As(err, &ce) {
		return ce.code, ce.hints
	}
	switch {
	case errors.Is(err, errInterrupted), errors.Is(err, context.Canceled):
		return exitInterrupted, []string{"nothing was lost: run the command again to finish"}
	case errors.Is(err, manifest.ErrNotGitRepo):
		return exitUsage, []string{"trove works inside a git repository: run `git init` first, or cd into one"}
	case errors.Is(err, manifest.ErrNotInitialized):
		return exitUsage, []string{"run `trove init` at the top of the repository"}
	case errors.Is(err, manifest.ErrOutsideRepo):
		return exitUsage, []string{"trove tracks paths inside the current git repository only"}
	case errors.Is(err, manifest.ErrNoSuchPath):
		return exitUsage, []string{"check the path; `trove ls` lists what is tracked"}
	case errors.Is(err, manifest.ErrNotTracked):
		return exitUsage, []string{"track it first with `trove add PATH`; `trove ls` lists what is tracked"}
	case errors.Is(err, manifest.ErrUnsupported):
		return exitUsage, nil
	case errors.Is(err, manifest.ErrConfig):
		return exitUsage, []string{"fix .trove/config (it is YAML; `trove remote add` rewrites the remotes section)"}
	case errors.Is(err, manifest.ErrNewerFormat):
		return exitUsage, []string{"this manifest was written by a newer trove: upgrade trove to read it"}
	case errors.Is(err, manifest.ErrNotCanonical):
		return exitIntegrity, []string{"restore it with `git checkout -- FILE.trove`, or rewrite it with `trove add PATH`"}
	case errors.Is(err, manifest.ErrInvalid):
		return exitIntegrity, []string{"restore the manifest with `git checkout -- FILE.trove`, or re-create it with `trove add PATH`"}
	case errors.Is(err, objects.ErrMissing):
		return exitIntegrity, []string{"the data is not in the local store: `trove pull` fetches it from the remote"}
	case errors.Is(err, objects.ErrCorrupt):
		return exitIntegrity, []string{"stored bytes do not match their id: `trove verify --deep` names the damaged objects; delete the damaged pack under .trove/store/packs, then `trove pull` fetches it again (or `trove add PATH` stores it again from the data)"}
	case errors.Is(err, manifest.ErrLocked):
		return exitRuntime, []string{"wait for the other trove command to finish and run this one again"}
	case errors.Is(err, manifest.ErrConflict):
		return exitRuntime, []string{"save the changes with `trove add PATH`, or pass --force to discard them"}
	}
	return exitRuntime, nil
}

// report prints err in trove's format and returns its exit code.
func report(w io.Writer, err error) int {
	code, hints := classify(err)
	msg := err.Error()
	if code == exitInterrupted {
		msg = "interrupted"
	}
	fmt.Fprintf(w, "trove: error: %s\n", strings.TrimSpace(msg))
	for _, h := range hints {
		fmt.Fprintf(w, "trove: hint: %s\n", h)
	}
	return code
}
