package s3

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
	"golang.org/x/net/http/httpproxy"

	"github.com/trove-dev/trove/remote"
)

const (
	// PartSize is the size of the parts of a multipart upload, and the largest object
	// sent in a single request. Put holds one part in memory at a time.
	PartSize = 16 << 20
	// DefaultMaxRetries is the number of attempts per request when Config.MaxRetries
	// is zero. With minio's backoff (200 ms doubling, capped at 1 s) an unreachable
	// endpoint fails within about four seconds.
	DefaultMaxRetries = 5
	// DefaultEndpoint is AWS S3's global endpoint, used when Config.Endpoint is empty.
	DefaultEndpoint = "s3.amazonaws.com"
)

// Config says where a remote is and how to reach it. Only Bucket is required.
type Config struct {
	// Endpoint is host or host:port, without a scheme; empty means AWS S3.
	Endpoint string
	// Bucket holds the remote's objects.
	Bucket string
	// Prefix, if not empty, is prepended with a slash to every key ("team/data" puts
	// key "packs/x" at "team/data/packs/x"). Leading and trailing slashes are ignored.
	Prefix string
	// Region is the bucket's region. Empty lets minio ask the service (one extra
	// request per bucket) or use us-east-1.
	Region string
	// PathStyle sends requests as https://endpoint/bucket/key rather than
	// https://bucket.endpoint/key. Needed by most self-hosted services without
	// wildcard DNS; IP endpoints always use path style.
	PathStyle bool
	// Insecure uses plain HTTP instead of HTTPS.
	Insecure bool
	// CAFile is a PEM bundle of certificate authorities trusted for HTTPS in addition
	// to the system's, for services with a private CA.
	CAFile string

	// AccessKey, SecretKey and SessionToken, if given, are the credentials; otherwise
	// they are looked up as the package documentation describes.
	AccessKey, SecretKey, SessionToken string
	// Profile selects the section of the shared credentials file; empty means
	// AWS_PROFILE, else "default".
	Profile string

	// Env looks up environment variables (the CLI passes os.Getenv). Nil means an
	// empty environment.
	Env func(string) string

	// MaxRetries is the number of attempts per request; zero means
	// DefaultMaxRetries, 1 disables retries.
	MaxRetries int
}

// S3 is a remote.Remote in an S3 bucket. It is safe for concurrent use.
type S3 struct {
	client     *minio.Client
	core       minio.Core
	bucket     string
	prefix     string // without slashes; "" for none
	region     string
	url        string // for String
	credSource string
	secrets    []string // redacted from every error
}

var _ remote.Remote = (*S3)(nil)

// New returns the remote described by cfg. It sends no request: a wrong endpoint,
// missing bucket or refused credential shows on the first operation. ctx bounds the
// credential lookup, which may run a credential_process from the shared file.
func New(ctx context.Context, cfg Config) (*S3, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3 remote: %w", err)
	}
	env := cfg.Env
	if env == nil {
		env = func(string) string { return "" }
	}
	if err := s3utils.CheckValidBucketName(cfg.Bucket); err != nil {
		return nil, fmt.Errorf("s3 remote: bucket %q: %w", cfg.Bucket, err)
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		if err := remote.CheckKey(prefix); err != nil {
			return nil, fmt.Errorf("s3 remote: prefix: %w", err)
		}
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	if strings.Contains(endpoint, "://") {
		return nil, fmt.Errorf("s3 remote: endpoint %q: give host[:port] without a scheme (set Insecure for http)", endpoint)
	}
	if strings.ContainsAny(endpoint, "/?#@") {
		return nil, fmt.Errorf("s3 remote: endpoint %q: give host[:port] only", endpoint)
	}
	if cfg.Insecure && cfg.CAFile != "" {
		return nil, fmt.Errorf("s3 remote: a CA file (%s) needs HTTPS, but Insecure asks for HTTP", cfg.CAFile)
	}
	creds, source, secrets, err := resolveCredentials(ctx, cfg, env)
	if err != nil {
		return nil, fmt.Errorf("s3 remote: %w", redact(err, secrets))
	}
	transport, err := newTransport(cfg, env)
	if err != nil {
		return nil, fmt.Errorf("s3 remote: %w", err)
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	retries := cfg.MaxRetries
	if retries <= 0 {
		retries = DefaultMaxRetries
	}
	client, err := minio.New(endpoint, &minio.Options{
		Creds:        creds,
		Secure:       !cfg.Insecure,
		Transport:    transport,
		Region:       cfg.Region,
		BucketLookup: lookup,
		MaxRetries:   retries,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 remote: endpoint %q: %w", endpoint, redact(err, secrets))
	}
	scheme := "https"
	if cfg.Insecure {
		scheme = "http"
	}
	u := "s3://" + cfg.Bucket
	if prefix != "" {
		u += "/" + prefix
	}
	if endpoint != DefaultEndpoint || cfg.Insecure {
		u += " at " + scheme + "://" + endpoint
	}
	return &S3{
		client:     client,
		core:       minio.Core{Client: client},
		bucket:     cfg.Bucket,
		prefix:     prefix,
		region:     cfg.Region,
		url:        u,
		credSource: source,
		secrets:    secrets,
	}, nil
}

// resolveCredentials picks the credential source as the package documentation says.
// It does what minio's credentials chain (EnvAWS, then FileAWSCredentials) would do,
// but reads the environment through env instead of os.Getenv, and knows which source
// it picked so errors can name it. It also returns the secrets to keep out of errors.
func resolveCredentials(ctx context.Context, cfg Config, env func(string) string) (*credentials.Credentials, string, []string, error) {
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		if cfg.AccessKey == "" || cfg.SecretKey == "" {
			return nil, "", nil, errors.New("credentials: access key and secret key must be given together")
		}
		secrets := nonEmpty(cfg.SecretKey, cfg.SessionToken)
		return credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken), "configured access key", secrets, nil
	}
	if id, secret := env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"); id != "" || secret != "" {
		if id == "" || secret == "" {
			return nil, "", nil, errors.New("credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together")
		}
		token := env("AWS_SESSION_TOKEN")
		return credentials.NewStaticV4(id, secret, token), "environment (AWS_ACCESS_KEY_ID)", nonEmpty(secret, token), nil
	}

	profile, explicit := cfg.Profile, true
	if profile == "" {
		profile = env("AWS_PROFILE")
	}
	if profile == "" {
		profile, explicit = "default", false
	}
	file, shown := env("AWS_SHARED_CREDENTIALS_FILE"), ""
	if file != "" {
		shown = file
	} else if home := env("HOME"); home != "" {
		file, shown = filepath.Join(home, ".aws", "credentials"), "~/.aws/credentials"
	}
	if file != "" {
		if _, err := os.Stat(file); err == nil {
			if err := ctx.Err(); err != nil {
				return nil, "", nil, err
			}
			// Filename and Profile both set: minio reads exactly this file and
			// section, and consults no environment variable.
			provider := &credentials.FileAWSCredentials{Filename: file, Profile: profile}
			v, err := provider.RetrieveWithCredContext(nil)
			source := fmt.Sprintf("shared credentials file %s profile %s", shown, profile)
			switch {
			case err != nil && explicit:
				return nil, "", nonEmpty(v.SecretAccessKey, v.SessionToken), fmt.Errorf("credentials from %s: %w", source, err)
			case err == nil && v.AccessKeyID != "":
				secrets := nonEmpty(v.SecretAccessKey, v.SessionToken)
				if v.Expiration.IsZero() {
					// Static keys: keep them, rather than let minio re-read the file
					// before every request.
					return credentials.NewStaticV4(v.AccessKeyID, v.SecretAccessKey, v.SessionToken), source, secrets, nil
				}
				// Temporary keys (credential_process, SSO): minio renews them.
				return credentials.New(provider), source, secrets, nil
			case explicit:
				return nil, "", nil, fmt.Errorf("credentials from %s: no aws_access_key_id", source)
			}
		} else if explicit {
			return nil, "", nil, fmt.Errorf("credentials: profile %s: shared credentials file %s: %w", profile, shown, err)
		}
	} else if explicit {
		return nil, "", nil, fmt.Errorf("credentials: profile %s: no shared credentials file (neither AWS_SHARED_CREDENTIALS_FILE nor HOME is set)", profile)
	}
	anon := credentials.New(&credentials.Static{Value: credentials.Value{SignerType: credentials.SignatureAnonymous}})
	return anon, "none (anonymous requests)", nil, nil
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// newTransport returns minio's default transport settings, with the proxy taken from
// env and the extra certificate authorities of cfg.CAFile.
func newTransport(cfg Config, env func(string) string) (*http.Transport, error) {
	proxy := (&httpproxy.Config{
		HTTPProxy:  firstOf(env, "HTTP_PROXY", "http_proxy"),
		HTTPSProxy: firstOf(env, "HTTPS_PROXY", "https_proxy"),
		NoProxy:    firstOf(env, "NO_PROXY", "no_proxy"),
	}).ProxyFunc()
	tr := &http.Transport{
		Proxy: func(r *http.Request) (*url.URL, error) { return proxy(r.URL) },
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   16,
		ResponseHeaderTimeout: time.Minute,
		IdleConnTimeout:       time.Minute,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 10 * time.Second,
		// Objects are stored as sent; never let the transport decode them.
		DisableCompression: true,
	}
	if cfg.Insecure {
		return tr, nil
	}
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate found", cfg.CAFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return tr, nil
}

func firstOf(env func(string) string, names ...string) string {
	for _, n := range names {
		if v := env(n); v != "" {
			return v
		}
	}
	return ""
}

// CredentialSource names where the credentials came from, such as
// "environment (AWS_ACCESS_KEY_ID)" or "shared credentials file ~/.aws/credentials
// profile default". It never includes a secret.
func (s *S3) CredentialSource() string { return s.credSource }

// String describes the remote as s3://bucket/prefix, followed by the endpoint when it
// is not AWS's default. It holds no credentials.
func (s *S3) String() string { return s.url }

// object returns the object name of key.
func (s *S3) object(key string) string {
	if s.prefix == "" {
		return key
	}
	return s.prefix + "/" + key
}

// MakeBucket creates the bucket, in Config.Region if set. A bucket that already exists
// and is owned by these credentials is not an error.
func (s *S3) MakeBucket(ctx context.Context) error {
	err := s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: s.region})
	if err != nil {
		if code := minioCode(err); code == "BucketAlreadyOwnedByYou" {
			return nil
		}
		return s.translate(ctx, "make bucket", s.bucket, err)
	}
	return nil
}

// Put implements remote.Remote.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := remote.CheckKey(key); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if size < 0 {
		return fmt.Errorf("put %s: negative size %d", key, size)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	er := &exactReader{ctx: ctx, r: r, left: size}
	var body io.Reader = er
	if size <= PartSize {
		// Read a small object whole first: a short or failing reader then sends no
		// request at all, and minio can retry the request from a seekable body.
		buf := make([]byte, size)
		if _, err := io.ReadFull(er, buf); err != nil {
			return fmt.Errorf("put %s: %w", key, er.cause(err))
		}
		body = bytes.NewReader(buf)
	}
	opts := minio.PutObjectOptions{PartSize: PartSize, ContentType: "application/octet-stream"}
	if _, err := s.client.PutObject(ctx, s.bucket, s.object(key), body, size, opts); err != nil {
		if er.err != nil {
			// The reader failed (or ran short) and minio aborted the upload.
			return fmt.Errorf("put %s: %w", key, er.err)
		}
		return s.translate(ctx, "put", key, err)
	}
	return nil
}

// exactReader yields exactly left bytes of r: EOF after them, and
// io.ErrUnexpectedEOF if r ends early. It records the first error from r (or ctx) so
// Put can report the cause rather than what minio made of it.
type exactReader struct {
	ctx  context.Context
	r    io.Reader
	left int64
	read int64
	err  error
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.left == 0 {
		return 0, io.EOF
	}
	if err := e.ctx.Err(); err != nil {
		e.err = err
		return 0, err
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	e.read += int64(n)
	switch {
	case err == io.EOF && e.left > 0:
		e.err = fmt.Errorf("read %d of %d bytes: %w", e.read, e.read+e.left, io.ErrUnexpectedEOF)
		return n, e.err
	case err != nil && err != io.EOF:
		e.err = err
		return n, err
	case e.left == 0:
		return n, io.EOF
	}
	return n, nil
}

// cause returns the reader's own error in preference to err, which io.ReadFull
// may have turned into io.ErrUnexpectedEOF.
func (e *exactReader) cause(err error) error {
	if e.err != nil {
		return e.err
	}
	return err
}

// Get implements remote.Remote. It sends the GET itself, not lazily on the first
// Read as minio's Client.GetObject does, so a missing key or a bad range is reported
// by Get. That costs nothing: it is the same single request, made earlier, and a
// HEAD first would cost a second request and could race with a Delete.
func (s *S3) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := remote.CheckKey(key); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	if err := remote.CheckRange(offset, length); err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	if length == 0 {
		// HTTP cannot ask for zero bytes; check the key and offset with a HEAD.
		if err := s.checkOffset(ctx, key, offset); err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	var opts minio.GetObjectOptions
	switch {
	case length > 0:
		if err := opts.SetRange(offset, offset+length-1); err != nil {
			return nil, fmt.Errorf("get %s: %w", key, err)
		}
	case offset > 0:
		if err := opts.SetRange(offset, 0); err != nil {
			return nil, fmt.Errorf("get %s: %w", key, err)
		}
	}
	body, _, _, err := s.core.GetObject(ctx, s.bucket, s.object(key), opts)
	if err != nil {
		if minioCode(err) == "InvalidRange" {
			// The range starts at or past the end. At the end, the answer is an
			// empty body, as from a file; past it, an error naming the size.
			if err := s.checkOffset(ctx, key, offset); err != nil {
				return nil, err
			}
			return io.NopCloser(bytes.NewReader(nil)), nil
		}
		return nil, s.translate(ctx, "get", key, err)
	}
	return &objectBody{ReadCloser: body, s: s, ctx: ctx, key: key}, nil
}

// checkOffset returns nil if key exists and offset is at most its size.
func (s *S3) checkOffset(ctx context.Context, key string, offset int64) error {
	info, err := s.client.StatObject(ctx, s.bucket, s.object(key), minio.StatObjectOptions{})
	if err != nil {
		return s.translate(ctx, "get", key, err)
	}
	if offset > info.Size {
		return fmt.Errorf("get %s: %w: offset %d is past the end (size %d)", key, remote.ErrInvalidRange, offset, info.Size)
	}
	return nil
}

// objectBody translates errors from reading an object's body.
type objectBody struct {
	io.ReadCloser
	s   *S3
	ctx context.Context
	key string
}

func (b *objectBody) Read(p []byte) (int, error) {
	// Bytes already buffered by the HTTP client would otherwise still be returned
	// after the context is cancelled.
	if err := b.ctx.Err(); err != nil {
		return 0, b.s.translate(b.ctx, "get", b.key, err)
	}
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = b.s.translate(b.ctx, "get", b.key, err)
	}
	return n, err
}

// Stat implements remote.Remote.
func (s *S3) Stat(ctx context.Context, key string) (remote.Info, error) {
	if err := remote.CheckKey(key); err != nil {
		return remote.Info{}, fmt.Errorf("stat: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return remote.Info{}, fmt.Errorf("stat %s: %w", key, err)
	}
	info, err := s.client.StatObject(ctx, s.bucket, s.object(key), minio.StatObjectOptions{})
	if err != nil {
		return remote.Info{}, s.translate(ctx, "stat", key, err)
	}
	return remote.Info{Key: key, Size: info.Size, ModTime: info.LastModified}, nil
}

// List implements remote.Remote.
func (s *S3) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	if err := remote.CheckPrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	// The listing runs in minio's goroutine; cancelling stops it when we return early.
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full := prefix
	strip := ""
	if s.prefix != "" {
		strip = s.prefix + "/"
		full = strip + prefix
	}
	for obj := range s.client.ListObjectsIter(lctx, s.bucket, minio.ListObjectsOptions{Prefix: full, Recursive: true}) {
		if obj.Err != nil {
			return s.translate(ctx, "list", fmt.Sprintf("%q", prefix), obj.Err)
		}
		key, ok := strings.CutPrefix(obj.Key, strip)
		if !ok || !strings.HasPrefix(key, prefix) || strings.HasSuffix(key, "/") {
			// Directory markers ("a/") are not objects trove wrote.
			continue
		}
		if err := fn(remote.Info{Key: key, Size: obj.Size, ModTime: obj.LastModified}); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	return nil
}

// Delete implements remote.Remote.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := remote.CheckKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	err := s.client.RemoveObject(ctx, s.bucket, s.object(key), minio.RemoveObjectOptions{})
	if err != nil {
		err = s.translate(ctx, "delete", key, err)
		if errors.Is(err, remote.ErrNotFound) {
			return nil
		}
		return err
	}
	return nil
}

// minioCode returns the S3 error code in err, or "".
func minioCode(err error) string {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		return resp.Code
	}
	return ""
}

// translate turns an error from minio into one of remote's sentinels where one fits,
// adds the operation and key, and redacts secrets.
func (s *S3) translate(ctx context.Context, op, key string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		// Whatever minio made of it, the cause is the caller's context.
		return fmt.Errorf("%s %s: %w", op, key, ctxErr)
	}
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) {
		return fmt.Errorf("%s %s: %w", op, key, redact(err, s.secrets))
	}
	msg := resp.Code
	if resp.Message != "" {
		msg += ": " + resp.Message
	}
	msg = redactString(msg, s.secrets)
	switch resp.Code {
	case "NoSuchKey":
		return fmt.Errorf("%s %s: %w", op, key, remote.ErrNotFound)
	case "NoSuchBucket":
		return fmt.Errorf("%s %s: %w: %s", op, key, remote.ErrNoBucket, s.bucket)
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "TokenRefreshRequired",
		// versitygw answers an unknown access key with 404 XAdminUserNotFound; it must
		// not read as a missing key (Delete would then report success).
		"XAdminUserNotFound":
		return s.denied(op, key, msg)
	case "InvalidRange":
		return fmt.Errorf("%s %s: %w (%s)", op, key, remote.ErrInvalidRange, msg)
	}
	if resp.StatusCode == http.StatusForbidden {
		// Other refusals (AccountProblem, RequestTimeTooSkewed, ...) are about the
		// credentials or the account too.
		return s.denied(op, key, msg)
	}
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%s %s: %w (%s)", op, key, remote.ErrNotFound, msg)
	}
	if resp.Code == "" || strings.Contains(resp.Message, resp.Code) {
		return fmt.Errorf("%s %s: %w", op, key, redact(err, s.secrets))
	}
	return fmt.Errorf("%s %s: %s: %w", op, key, resp.Code, redact(err, s.secrets))
}

func (s *S3) denied(op, key, msg string) error {
	return fmt.Errorf("%s %s: %w to bucket %s with credentials from %s (%s)", op, key, remote.ErrAccessDenied, s.bucket, s.credSource, msg)
}

// redact returns err with every secret in its message replaced by "***", keeping
// errors.Is and errors.As working through it.
func redact(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if redactString(msg, secrets) == msg {
		return err
	}
	return &redacted{err: err, secrets: secrets}
}

func redactString(s string, secrets []string) string {
	for _, secret := range secrets {
		s = strings.ReplaceAll(s, secret, "***")
	}
	return s
}

type redacted struct {
	err     error
	secrets []string
}

func (r *redacted) Error() string { return redactString(r.err.Error(), r.secrets) }
func (r *redacted) Unwrap() error { return r.err }
