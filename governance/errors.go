package governance

import (
	"errors"
	"fmt"
)

// Errors returned (wrapped) by this package; the CLI maps them to exit codes.
var (
	// ErrDirty: the git working tree has changes that the lineage could not
	// describe (trove run refuses unless told to allow it).
	ErrDirty = errors.New("the git working tree has uncommitted changes")
	// ErrNoCommit: the repository has no commit, so there is no code to point to.
	ErrNoCommit = errors.New("the repository has no commit yet")
	// ErrInputModified: an input differs from its manifest before the step ran.
	ErrInputModified = errors.New("input differs from its manifest")
	// ErrInputChanged: an input changed while the step ran; nothing was recorded.
	ErrInputChanged = errors.New("input changed while the command ran")
	// ErrNotProduced: the step finished without writing an output.
	ErrNotProduced = errors.New("output was not produced")
	// ErrParams: the parameters file cannot be read as YAML or JSON.
	ErrParams = errors.New("invalid parameters file")
	// ErrMetrics: the metrics file is not a JSON object of finite numbers.
	ErrMetrics = errors.New("invalid metrics file")
	// ErrBadInput: a --input or --output argument cannot be used.
	ErrBadInput = errors.New("invalid input or output")
	// ErrUnknownModel: no registry tag names this model.
	ErrUnknownModel = errors.New("unknown model")
	// ErrUnknownVersion: the model has no such version.
	ErrUnknownVersion = errors.New("unknown version")
	// ErrUnknownStage: a stage that .trove/config does not list.
	ErrUnknownStage = errors.New("unknown stage")
	// ErrBadVersion: a version that is not vMAJOR.MINOR.PATCH (semantic versioning).
	ErrBadVersion = errors.New("invalid version")
	// ErrBadRef: a model reference that is not NAME, NAME@VERSION or NAME#STAGE.
	ErrBadRef = errors.New("invalid model reference")
	// ErrVersionExists: the version is already registered (or its tag exists).
	ErrVersionExists = errors.New("version already registered")
	// ErrNotRegistrable: the artifact cannot be registered as it is (not found at
	// HEAD, ambiguous, modified or uncommitted).
	ErrNotRegistrable = errors.New("cannot register the artifact")
	// ErrDeprecated: the version (or model) is deprecated.
	ErrDeprecated = errors.New("deprecated")
	// ErrAlreadyInStage: the version already holds the stage.
	ErrAlreadyInStage = errors.New("already in the stage")
	// ErrDenied: a promotion gate said no (see PromoteOptions.Gate).
	ErrDenied = errors.New("promotion denied")
	// ErrIdentity: no tagger identity (git user.name and user.email) is known.
	ErrIdentity = errors.New("no git identity")
	// ErrNotFound: a path or name that resolves to no artifact.
	ErrNotFound = errors.New("no such artifact")
)

// CommandError is returned by Run when the step exited with a non-zero status.
// Nothing was recorded.
type CommandError struct {
	Args []string
	Exit int
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("command exited with status %d; nothing was recorded", e.Exit)
}
