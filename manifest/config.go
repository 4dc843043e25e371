package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/trove-dev/trove/objects"
)

const defaultConfig = `# trove configuration. Safe to commit: never put secrets here
# (credentials come from AWS_* environment variables or ~/.aws/credentials).
version: 1
`

// ErrConfig is returned (wrapped) for an invalid .trove/config.
var ErrConfig = errors.New("invalid configuration")

// RemoteConfig describes one remote. URL is s3://BUCKET[/PREFIX], file:///PATH or
// a directory path. Credentials never live here.
type RemoteConfig struct {
	URL       string `yaml:"url" json:"url"`
	Endpoint  string `yaml:"endpoint,omitempty" json:"endpoint,omitempty"`
	Region    string `yaml:"region,omitempty" json:"region,omitempty"`
	PathStyle bool   `yaml:"path_style,omitempty" json:"path_style,omitempty"`
	CAFile    string `yaml:"ca_file,omitempty" json:"ca_file,omitempty"`
	Profile   string `yaml:"profile,omitempty" json:"profile,omitempty"`
}

// Config is .trove/config.
type Config struct {
	Version       int                     `yaml:"version"`
	DefaultRemote string                  `yaml:"default_remote,omitempty"`
	Remotes       map[string]RemoteConfig `yaml:"remotes,omitempty"`
	Stages        []string                `yaml:"stages,omitempty"`
}

var remoteNameRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`) })

// ValidRemoteName reports whether s can name a remote.
func ValidRemoteName(s string) bool { return remoteNameRe().MatchString(s) }

// secretish are key names that look like credentials; the config refuses them.
var secretish = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)(secret|password|passwd|token|access_?key|credential)`)
})

// ConfigPath returns the path of .trove/config.
func (r *Repo) ConfigPath() string { return filepath.Join(r.trove, "config") }

// LoadConfig reads .trove/config strictly: unknown keys, anything that looks like a
// credential, and malformed remotes are errors with a line number where known.
func (r *Repo) LoadConfig() (*Config, error) {
	b, err := os.ReadFile(r.ConfigPath())
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{Version: 1}, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseConfig(b)
}

// ParseConfig parses the bytes of a config file.
func ParseConfig(b []byte) (*Config, error) {
	var node yaml.Node
	if err := yaml.Unmarshal(b, &node); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", Dir+"/config", ErrConfig, err)
	}
	if err := refuseSecrets(&node); err != nil {
		return nil, err
	}
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, errEOF(err)) {
		return nil, fmt.Errorf("%s: %w: %v", Dir+"/config", ErrConfig, err)
	}
	if c.Version == 0 {
		c.Version = 1
	}
	if c.Version != 1 {
		return nil, fmt.Errorf("%s: %w: version %d is not supported (upgrade trove)", Dir+"/config", ErrConfig, c.Version)
	}
	for name, rc := range c.Remotes {
		if !ValidRemoteName(name) {
			return nil, fmt.Errorf("%s: %w: remote name %q", Dir+"/config", ErrConfig, name)
		}
		if err := CheckRemoteURL(rc.URL); err != nil {
			return nil, fmt.Errorf("%s: remote %s: %w", Dir+"/config", name, err)
		}
	}
	if c.DefaultRemote != "" {
		if _, ok := c.Remotes[c.DefaultRemote]; !ok {
			return nil, fmt.Errorf("%s: %w: default_remote %q is not a configured remote", Dir+"/config", ErrConfig, c.DefaultRemote)
		}
	}
	return c, nil
}

func errEOF(err error) error {
	if err != nil && err.Error() == "EOF" {
		return err
	}
	return errors.New("not eof")
}

func refuseSecrets(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if secretish().MatchString(k.Value) {
				return fmt.Errorf("%s line %d: %w: %q looks like a credential; trove never reads secrets from its config (use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or ~/.aws/credentials)", Dir+"/config", k.Line, ErrConfig, k.Value)
			}
		}
	}
	for _, c := range n.Content {
		if err := refuseSecrets(c); err != nil {
			return err
		}
	}
	return nil
}

// CheckRemoteURL accepts s3://BUCKET[/PREFIX], file:///PATH and plain paths, and
// refuses URLs carrying credentials.
func CheckRemoteURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("%w: empty remote URL", ErrConfig)
	}
	if !strings.Contains(raw, "://") {
		return nil // a directory path
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: remote URL %q: %v", ErrConfig, raw, err)
	}
	if u.User != nil {
		return fmt.Errorf("%w: remote URL must not contain credentials (use AWS_* environment variables or ~/.aws/credentials)", ErrConfig)
	}
	switch u.Scheme {
	case "s3":
		if u.Host == "" {
			return fmt.Errorf("%w: remote URL %q: want s3://BUCKET[/PREFIX]", ErrConfig, raw)
		}
		if u.RawQuery != "" {
			return fmt.Errorf("%w: remote URL %q: query parameters are not supported (use flags)", ErrConfig, raw)
		}
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return fmt.Errorf("%w: remote URL %q: want file:///ABSOLUTE/PATH", ErrConfig, raw)
		}
	default:
		return fmt.Errorf("%w: remote URL %q: scheme %q is not supported (want s3:// or a directory)", ErrConfig, raw, u.Scheme)
	}
	return nil
}

// SaveConfig writes .trove/config atomically.
func (r *Repo) SaveConfig(c *Config) error {
	var buf bytes.Buffer
	buf.WriteString("# trove configuration. Safe to commit: never put secrets here\n# (credentials come from AWS_* environment variables or ~/.aws/credentials).\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return err
	}
	enc.Close()
	return objects.WriteFileAtomic(r.ConfigPath(), buf.Bytes(), 0o644)
}

// RemoteNames returns the configured remotes, sorted.
func (c *Config) RemoteNames() []string {
	var out []string
	for n := range c.Remotes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
