package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"
)

// version is set by the linker (-X main.version=...) for releases.
var version = ""

func troveVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// env carries what the CLI reads from the world, so tests can run it in-process.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	cwd    string
}

// run is the whole CLI: it parses args, runs one command and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cwd, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(stderr, "trove: error: %v\n", err)
		return exitRuntime
	}
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, cwd: cwd}
	app := newApp(e)
	err = app.RunContext(ctx, interspersed(app, args))
	if err == nil {
		return exitOK
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%w: %w", errInterrupted, err)
	}
	return report(stderr, err)
}

func newApp(e *env) *cli.App {
	app := &cli.App{
		Name:                 "trove",
		Usage:                "version datasets and models beside git, and gate what reaches production",
		Version:              troveVersion(),
		Reader:               e.stdin,
		Writer:               e.stdout,
		ErrWriter:            e.stderr,
		EnableBashCompletion: true,
		// Paths may contain commas: --input a,b.csv is one path, not two.
		DisableSliceFlagSeparator: true,
		HideVersion:               true,
		Commands: []*cli.Command{
			initCommand(e),
			addCommand(e),
			statusCommand(e),
			checkoutCommand(e),
			lsCommand(e),
			diffCommand(e),
			logCommand(e),
			remoteCommand(e),
			pushCommand(e),
			fetchCommand(e),
			pullCommand(e),
			verifyCommand(e),
			gcCommand(e),
			hooksCommand(e),
			runCommand(e),
			lineageCommand(e),
			metricsCommand(e),
			registerCommand(e),
			modelsCommand(e),
			stagesCommand(e),
			promoteCommand(e),
			deprecateCommand(e),
			checkCommand(e),
			policyCommand(e),
			approveCommand(e),
			approvalsCommand(e),
			reportCommand(e),
			observeCommand(e),
			observationsCommand(e),
			monitorCommand(e),
			exportCommand(e),
			auditCommand(e),
			versionCommand(e),
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageErr(err.Error(), "run `trove help` for usage")
		},
		CommandNotFound: func(c *cli.Context, name string) {},
		ExitErrHandler:  func(*cli.Context, error) {},
	}
	app.CommandNotFound = nil
	app.Action = func(c *cli.Context) error {
		if c.NArg() > 0 {
			return usageErr(fmt.Sprintf("unknown command %q", c.Args().First()), "run `trove help` to list the commands")
		}
		return cli.ShowAppHelp(c)
	}
	for _, c := range app.Commands {
		c.OnUsageError = app.OnUsageError
	}
	return app
}

// checkArgs returns a usage error when a command got arguments it does not take.
func noArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErr(fmt.Sprintf("%s takes no arguments, got %q", c.Command.Name, strings.Join(c.Args().Slice(), " ")), "run `trove help "+c.Command.Name+"`")
	}
	return nil
}

var errInterrupted = errors.New("interrupted")
