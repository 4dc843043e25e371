package s3

import (
	"context"

	"github.com/minio/minio-go/v7"
)

// RemoveBucketForTest deletes every object and incomplete upload in the bucket, then
// the bucket, so tests against a shared server leave nothing behind.
func (s *S3) RemoveBucketForTest(ctx context.Context) error {
	for obj := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			return obj.Err
		}
		if err := s.client.RemoveObject(ctx, s.bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			return err
		}
	}
	for up := range s.client.ListIncompleteUploads(ctx, s.bucket, "", true) {
		if up.Err != nil {
			return up.Err
		}
		if err := s.client.RemoveIncompleteUpload(ctx, s.bucket, up.Key); err != nil {
			return err
		}
	}
	return s.client.RemoveBucket(ctx, s.bucket)
}

// IncompleteUploadsForTest counts the multipart uploads in progress in the bucket.
func (s *S3) IncompleteUploadsForTest(ctx context.Context) (int, error) {
	n := 0
	for up := range s.client.ListIncompleteUploads(ctx, s.bucket, "", true) {
		if up.Err != nil {
			return n, up.Err
		}
		n++
	}
	return n, nil
}

// ETagForTest returns the ETag of key's object.
func (s *S3) ETagForTest(ctx context.Context, key string) (string, error) {
	info, err := s.client.StatObject(ctx, s.bucket, s.object(key), minio.StatObjectOptions{})
	return info.ETag, err
}
