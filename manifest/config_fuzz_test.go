package manifest

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseConfig: .trove/config may be edited by hand or arrive in a clone.
// Parsing never panics, never accepts something that looks like a credential,
// and what it accepts saves and parses back to the same remotes.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		"",
		"version: 1\n",
		"version: 1\ndefault_remote: origin\nremotes:\n  origin:\n    url: s3://bucket/prefix\n",
		"remotes:\n  local:\n    url: /srv/trove\n  s3:\n    url: s3://b\n    endpoint: 127.0.0.1:9000\n",
		"remotes:\n  origin:\n    url: s3://b\n    secret_access_key: hunter2\n",
		"version: 2\n",
		"a: &a [*a, *a]\n",
		"remotes: {x: {url: 's3://AKIA:secret@bucket'}}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			if !errors.Is(err, ErrConfig) && !strings.Contains(err.Error(), Dir+"/config") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if c.Version != 1 {
			t.Fatalf("accepted version %d", c.Version)
		}
		for name, rc := range c.Remotes {
			if !ValidRemoteName(name) || CheckRemoteURL(rc.URL) != nil {
				t.Fatalf("accepted remote %q url %q", name, rc.URL)
			}
		}
		dir := t.TempDir()
		r := &Repo{Root: dir, trove: dir}
		if err := r.SaveConfig(c); err != nil {
			t.Fatalf("accepted config does not save: %v", err)
		}
		c2, err := r.LoadConfig()
		if err != nil {
			t.Fatalf("saved config does not load: %v", err)
		}
		if len(c2.Remotes) != len(c.Remotes) || c2.DefaultRemote != c.DefaultRemote {
			t.Fatalf("round trip changed the config: %+v -> %+v", c, c2)
		}
		for name, rc := range c.Remotes {
			if c2.Remotes[name] != rc {
				t.Fatalf("remote %s: %+v -> %+v", name, rc, c2.Remotes[name])
			}
		}
	})
}
