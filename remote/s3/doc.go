// Package s3 implements remote.Remote on an S3 bucket, through minio-go, for AWS S3
// and S3-compatible services (MinIO, Ceph RGW, Cloudflare R2, versitygw, ...).
//
// # Layout
//
// A key is stored as the object Prefix + "/" + key in Bucket, or as key itself when
// Prefix is empty, so several trove remotes can share one bucket. List strips the
// prefix again: callers only ever see their own keys.
//
// # Credentials
//
// New picks one source, in this order, and CredentialSource names it (never the
// secret):
//
//  1. Config.AccessKey and Config.SecretKey (and SessionToken), when given;
//  2. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN;
//  3. the shared credentials file, AWS_SHARED_CREDENTIALS_FILE or
//     $HOME/.aws/credentials, profile Config.Profile, else AWS_PROFILE, else "default";
//  4. none: requests are sent unsigned, which works for public buckets only.
//
// The package reads the environment only through Config.Env, which the CLI sets to
// os.Getenv and tests set to a map: nothing here calls os.Getenv. For the same reason
// the HTTP proxy comes from HTTPS_PROXY, HTTP_PROXY and NO_PROXY looked up through
// Config.Env, not from the process environment.
//
// # Errors
//
// Provider errors are translated here, at the boundary: a missing key wraps
// remote.ErrNotFound, a missing bucket remote.ErrNoBucket (naming the bucket), refused
// credentials remote.ErrAccessDenied (naming the credential source), an unsatisfiable
// range remote.ErrInvalidRange, and a cancelled or expired context the context's
// error. Every error leaving the package has any secret in it replaced by "***".
//
// A HEAD response has no body and so no error code: Stat of a key in a bucket that
// does not exist reports remote.ErrNotFound. Put, Get, List and Delete report
// remote.ErrNoBucket.
//
// # Transfers
//
// Put sends objects up to 16 MiB in one request and larger ones as a multipart upload
// of 16 MiB parts, one part in memory at a time. Either way S3 creates the object only
// when the last byte has arrived, so a failed or cancelled Put leaves no object (an
// abandoned multipart upload is aborted; a bucket lifecycle rule that removes
// incomplete uploads after a day catches the rest). Put first reads a small object
// whole into memory, which lets minio retry its request; each part of a large one is
// likewise retried on its own.
//
// minio retries failed requests with exponential backoff; the client here allows
// MaxRetries attempts per request, so an unreachable endpoint fails in a few seconds
// rather than minutes. Callers bound everything else with the context.
package s3
