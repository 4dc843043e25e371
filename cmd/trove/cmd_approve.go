package main

// Approvals: trove approve signs an approval of a model version for a stage
// and writes it under .trove/approvals for the user to commit; trove approvals
// lists a version's approvals with the status of each signature. See
// governance/approvals.go for the record format.

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trove-dev/trove/governance"
	tsign "github.com/trove-dev/trove/governance/sign"
	"github.com/trove-dev/trove/manifest"
)

func approveCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "approve",
		Usage: "sign an approval of a model version for a stage (.trove/approvals, to commit)",
		Description: "Writes .trove/approvals/NAME/VERSION/STAGE/<time>-<key>.json, a record naming the\n" +
			"version's digest, the digest of .trove/policy.yaml, who approves (--principal, default\n" +
			"git's user.email), when, the roles claimed (--role; default: every role .trove/roles.yaml\n" +
			"gives the principal) and why, and beside it its SSH signature (.json.sig, namespace\n" +
			"\"trove\"). Commit both: the policy's approvals rule counts committed approvals.\n\n" +
			"The key is --key, else TROVE_SIGNING_KEY, else git's user.signingKey when gpg.format is\n" +
			"ssh: a private key file, or a public key (file or \"ssh-ed25519 AAAA...\") whose private\n" +
			"half is in ssh-agent (SSH_AUTH_SOCK). The signature is checked against\n" +
			".trove/allowed_signers before anything is written. Anyone can check it without trove:\n" +
			"ssh-keygen -Y verify -f .trove/allowed_signers -I PRINCIPAL -n trove -s FILE.sig < FILE",
		ArgsUsage: "NAME@VERSION --stage STAGE",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "stage", Usage: "the stage approved for"},
			&cli.StringSliceFlag{Name: "role", Usage: "a role claimed (repeatable); only roles .trove/roles.yaml gives the principal count"},
			&cli.StringFlag{Name: "comment", Aliases: []string{"m"}, Usage: "why, recorded in the approval"},
			&cli.StringFlag{Name: "expires", Usage: "when the approval stops counting: a duration (14d, 2w, 72h) or a time (RFC 3339, or a date)"},
			&cli.StringFlag{Name: "key", Usage: "the SSH signing key (default: TROVE_SIGNING_KEY, then git's user.signingKey)"},
			&cli.StringFlag{Name: "principal", Usage: "who approves, as in .trove/allowed_signers (default: git's user.email)"},
			jsonFlag, quietFlag,
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("approve needs exactly one NAME@VERSION", "e.g. trove approve churn@v1.2.0 --stage production")
			}
			ref, err := governance.ParseRef(c.Args().First())
			if err != nil {
				return govErr(err)
			}
			if ref.Version == "" || ref.Stage != "" {
				return usageErr(fmt.Sprintf("%q: name the version to approve, NAME@VERSION", c.Args().First()), "`trove stages "+ref.Name+" --json` lists its versions")
			}
			stage := c.String("stage")
			if stage == "" {
				return usageErr("approve needs --stage STAGE", "e.g. trove approve "+ref.String()+" --stage production")
			}
			var roles []string
			if c.IsSet("role") {
				roles = []string{}
				for _, r := range c.StringSlice("role") {
					if !governance.ValidRole(r) {
						return usageErr(fmt.Sprintf("--role %q: use lowercase letters, digits, '_', '.', '-'", r), "roles are listed in .trove/roles.yaml")
					}
					roles = append(roles, r)
				}
			}
			if len(c.String("comment")) > 4096 {
				return usageErr("--comment: at most 4096 bytes")
			}
			if p := c.String("principal"); c.IsSet("principal") && !governance.ValidPrincipal(p) {
				return usageErr(fmt.Sprintf("--principal %q: want a literal principal such as alice@example.com (no spaces, commas or patterns)", p))
			}
			w, err := e.world()
			if err != nil {
				return err
			}
			var expires time.Time
			if s := c.String("expires"); s != "" {
				if expires, err = parseExpires(s, w.Now().UTC()); err != nil {
					return err
				}
			}
			r, stages, reg, err := e.registryView()
			if err != nil {
				return err
			}
			defer r.Close()
			// What is approved is checked before a key is needed; Approve checks again.
			if !contains(stages, stage) {
				return govErr(fmt.Errorf("%w %q: the stages are %s", governance.ErrUnknownStage, stage, strings.Join(stages, ", ")))
			}
			if _, _, err := reg.Resolve(ref, stages); err != nil {
				return govErr(err)
			}
			key, source, err := e.signingKey(c, r, w)
			if err != nil {
				return err
			}
			signer, closer, err := governance.OpenSigningKey(c.Context, w, key)
			if err != nil {
				return keyErr(err, source)
			}
			defer closer.Close()
			allowed, err := governance.ReadAllowedSigners(r)
			noSigners := errors.Is(err, governance.ErrNoAllowedSigners)
			if noSigners {
				allowed = &tsign.AllowedSigners{} // Approve then says which line would let this key sign
			} else if err != nil {
				return approveErr(err)
			}
			roleFile, err := governance.ReadRoles(r)
			if err != nil {
				return approveErr(err)
			}
			res, err := governance.Approve(c.Context, r, w, governance.ApproveOptions{
				Ref: ref, Stage: stage, Stages: stages, Roles: roles, Comment: c.String("comment"), Expires: expires,
				Principal: c.String("principal"), Signer: signer, Allowed: allowed, RoleFile: roleFile,
			})
			var na *governance.SignerNotAllowedError
			if noSigners && errors.As(err, &na) {
				return &cliError{msg: fmt.Sprintf("%s does not exist: no key may sign approvals", governance.AllowedSignersFile), code: exitUsage, err: err, hints: []string{
					"create it with the signers' keys, one line each, have it reviewed and commit it; for this key:",
					"  " + na.Line,
				}}
			}
			if err != nil {
				return approveErr(err)
			}
			e.auditWarning(res.Audit)
			if res.OwnRegistration {
				fmt.Fprintf(e.stderr, "trove: warning: %s registered %s@%s: an approvals rule with distinct_from_author (the default) will not count this approval\n",
					res.Record.Principal, res.Record.Name, res.Record.Version)
			}
			if len(res.RolesNotGranted) > 0 {
				fmt.Fprintf(e.stderr, "trove: warning: %s does not give %s the role(s) %s: they will not count\n",
					governance.RolesFile, res.Record.Principal, strings.Join(res.RolesNotGranted, ", "))
			}
			if c.Bool("json") {
				if err := writeJSON(e.stdout, res); err != nil {
					return err
				}
			} else if _, err := fmt.Fprintln(e.stdout, res.File); err != nil {
				return err
			}
			what := fmt.Sprintf("approved %s@%s for %s as %s with key %s", res.Record.Name, res.Record.Version, res.Record.Stage, res.Record.Principal, res.Fingerprint)
			if len(res.RolesGranted) > 0 {
				what += " (roles: " + strings.Join(res.RolesGranted, ", ") + ")"
			}
			e.summary(c, "%s", what)
			e.summary(c, "hint: commit it: git add %s %s && git commit -m 'Approve %s@%s for %s'",
				e.relPath(r, res.File), e.relPath(r, res.SignatureFile), res.Record.Name, res.Record.Version, res.Record.Stage)
			return nil
		},
	}
}

// relPath turns a repository-relative path into one relative to the working
// directory, for commands to copy.
func (e *env) relPath(r *manifest.Repo, rel string) string {
	if p, err := filepath.Rel(e.cwd, r.Abs(rel)); err == nil {
		return filepath.ToSlash(p)
	}
	return rel
}

// signingKey is --key, else the key the repository's configuration names.
func (e *env) signingKey(c *cli.Context, r *manifest.Repo, w governance.World) (key, source string, err error) {
	if k := c.String("key"); k != "" {
		// A path is relative to the working directory; literal keys and ~/ stay.
		if !strings.HasPrefix(k, "ssh-") && !strings.HasPrefix(k, "key::") && !strings.HasPrefix(k, "~/") && !filepath.IsAbs(k) {
			k = filepath.Join(e.cwd, k)
		}
		return k, "--key", nil
	}
	key, source, err = governance.SigningKey(r.Root, w)
	if err != nil {
		return "", "", govErr(err)
	}
	if key == "" {
		return "", "", usageErr("no SSH signing key",
			"pass --key ~/.ssh/id_ed25519 (a private key, or a .pub whose key is in ssh-agent)",
			"or set TROVE_SIGNING_KEY, or `git config gpg.format ssh && git config user.signingKey ~/.ssh/id_ed25519.pub`")
	}
	return key, source, nil
}

// keyErr explains a signing key that cannot be opened.
func keyErr(err error, source string) error {
	hints := []string{"the key comes from " + source}
	switch {
	case errors.Is(err, tsign.ErrEncryptedKey):
		hints = append(hints, "add it to ssh-agent with `ssh-add KEY` and make SSH_AUTH_SOCK point at the agent")
	case errors.Is(err, tsign.ErrNoAgent), errors.Is(err, tsign.ErrKeyNotInAgent):
		hints = append(hints, "start ssh-agent and `ssh-add` the private key, or pass the private key file with --key")
	case errors.Is(err, tsign.ErrUnsupportedKey):
		hints = append(hints, "use an ed25519, ECDSA or RSA key: ssh-keygen -t ed25519")
	}
	return &cliError{msg: err.Error(), code: exitUsage, err: err, hints: hints}
}

// approveErr maps the approval errors to exit codes and hints.
func approveErr(err error) error {
	var na *governance.SignerNotAllowedError
	switch {
	case errors.As(err, &na):
		return &cliError{msg: err.Error(), code: exitUsage, err: err, hints: []string{
			"to let this key sign as " + na.Principal + ", add this line to " + governance.AllowedSignersFile + ", have it reviewed and commit it:",
			"  " + na.Line,
			"or sign with the key that is listed for " + na.Principal + " (--key)",
		}}
	case errors.Is(err, tsign.ErrAllowedSigners):
		return &cliError{msg: err.Error(), code: exitUsage, err: err, hints: []string{"each line is `principal [namespaces=\"git,trove\"] keytype base64-key [comment]` (ssh-keygen(1), ALLOWED SIGNERS)"}}
	case errors.Is(err, tsign.ErrRoles):
		return &cliError{msg: err.Error(), code: exitUsage, err: err, hints: []string{"the roles file is `version: 1` and `roles:` mapping each role to a list of principals"}}
	case errors.Is(err, governance.ErrBadApproval):
		return &cliError{msg: err.Error(), code: exitUsage, err: err}
	case errors.Is(err, governance.ErrNotApprovable):
		return &cliError{msg: err.Error(), code: exitRuntime, err: err}
	case errors.Is(err, governance.ErrApprovals):
		return &cliError{msg: err.Error(), code: exitIntegrity, err: err, hints: []string{"approvals are plain files and directories: restore .trove/approvals with `git checkout -- .trove/approvals`"}}
	}
	return govErr(err)
}

var expiresDaysRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([0-9]{1,5})([dw])$`) })

// parseExpires reads --expires: a duration from now (14d, 2w, or Go's 72h,
// 90m) or a time (RFC 3339, a UTC date and time without zone, or a date: its
// start, UTC). It must be in the future.
func parseExpires(s string, now time.Time) (time.Time, error) {
	var t time.Time
	if m := expiresDaysRe().FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		days := n
		if m[2] == "w" {
			days = 7 * n
		}
		t = now.AddDate(0, 0, days)
	} else if d, err := time.ParseDuration(s); err == nil {
		t = now.Add(d)
	} else {
		for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
			if p, err := time.Parse(layout, s); err == nil {
				t = p.UTC()
				break
			}
		}
		if t.IsZero() {
			return time.Time{}, usageErr(fmt.Sprintf("--expires %q: want a duration such as 14d, 2w or 72h, or a time such as 2026-06-30T00:00:00Z or a date such as 2026-06-30", s))
		}
	}
	t = t.Truncate(time.Second)
	if !t.After(now) {
		return time.Time{}, usageErr(fmt.Sprintf("--expires %q: %s is not in the future", s, t.Format(time.RFC3339)))
	}
	return t, nil
}

func approvalsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "approvals",
		Usage: "list a model version's approvals and whether each signature is valid",
		Description: "Reads .trove/approvals/NAME/VERSION/*/ in the working tree and checks each record's\n" +
			"signature against .trove/allowed_signers for its principal at its time, and its roles\n" +
			"against .trove/roles.yaml. An approval that is valid but approves another digest, or was\n" +
			"made under another .trove/policy.yaml, is listed with a note: the policy will not count it.",
		ArgsUsage: "NAME@VERSION",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "stage", Usage: "only the approvals for this stage"},
			jsonFlag, quietFlag,
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr("approvals needs exactly one NAME@VERSION", "e.g. trove approvals churn@v1.2.0")
			}
			ref, err := governance.ParseRef(c.Args().First())
			if err != nil {
				return govErr(err)
			}
			if ref.Version == "" || ref.Stage != "" {
				return usageErr(fmt.Sprintf("%q: name the version, NAME@VERSION", c.Args().First()), "`trove stages "+ref.Name+" --json` lists its versions")
			}
			if s := c.String("stage"); s != "" && !governance.ValidStage(s) {
				return usageErr(fmt.Sprintf("--stage %q: use lowercase letters, digits and '-'", s))
			}
			w, err := e.world()
			if err != nil {
				return err
			}
			r, err := e.open()
			if err != nil {
				return err
			}
			defer r.Close()
			stages, err := configStages(r)
			if err != nil {
				return err
			}
			if _, err := e.readRegistry(r); err != nil {
				return err
			}
			list, err := governance.ListApprovals(c.Context, r, w, governance.ListApprovalsOptions{Ref: ref, Stage: c.String("stage"), Stages: stages})
			if err != nil {
				return approveErr(err)
			}
			for _, warn := range list.Warnings {
				fmt.Fprintf(e.stderr, "trove: warning: %s\n", warn)
			}
			if c.Bool("json") {
				return writeJSON(e.stdout, list)
			}
			valid := 0
			for _, a := range list.Approvals {
				if a.Valid() {
					valid++
				}
			}
			if len(list.Approvals) > 0 {
				if err := approvalsTable(e.stdout, list); err != nil {
					return err
				}
			}
			e.summary(c, "%s@%s: %s, %d valid", list.Name, list.Version, plural(int64(len(list.Approvals)), "approval"), valid)
			if len(list.Approvals) == 0 {
				e.summary(c, "hint: `trove approve %s@%s --stage STAGE` signs one", list.Name, list.Version)
			}
			return nil
		},
	}
}

func approvalsTable(w io.Writer, list *governance.ApprovalList) error {
	rows := make([][]string, 0, len(list.Approvals))
	for _, a := range list.Approvals {
		status := "valid"
		switch {
		case a.Expired:
			status = "expired"
		case !a.Valid():
			status = "invalid: " + a.Problem
		case len(a.Notes) > 0:
			status = "valid; " + strings.Join(a.Notes, "; ")
		}
		if a.Valid() && len(a.RolesNotGranted) > 0 {
			status += "; role(s) not granted: " + strings.Join(a.RolesNotGranted, ", ")
		}
		at := "-"
		if !a.Approval.At.IsZero() {
			at = a.Approval.At.UTC().Format(time.RFC3339)
		}
		roles := strings.Join(a.Approval.Roles, ",")
		rows = append(rows, []string{a.Approval.Stage, orDash(a.Approval.Signer), orDash(roles), at, orDash(a.Fingerprint), status})
	}
	return table(w, []string{"STAGE", "SIGNER", "ROLES", "AT", "KEY", "STATUS"}, rows)
}
