package objects_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/trove-dev/trove/objects"
)

// A content's id is the BLAKE3 of its bytes: `printf 'hello, trove\n' | b3sum`
// prints the same hex.
func ExampleHash() {
	id := objects.Hash([]byte("hello, trove\n"))
	fmt.Println(id)
	fmt.Println(id.Hex())
	fmt.Println(id.Short())
	// Output:
	// blake3:3826ba093504df62ebc7067f3ea58291e4473ecffde0680ce75db38b5abba450
	// 3826ba093504df62ebc7067f3ea58291e4473ecffde0680ce75db38b5abba450
	// 3826ba093504
}

func ExampleParseID() {
	id, err := objects.ParseID("blake3:3826ba093504df62ebc7067f3ea58291e4473ecffde0680ce75db38b5abba450")
	fmt.Println(id == objects.Hash([]byte("hello, trove\n")), err)

	_, err = objects.ParseID("blake3:3826BA09")
	fmt.Println(err)
	// Output:
	// true <nil>
	// malformed object id "3826BA09": want 64 lowercase hex digits
}

func ExampleStore_WriteContent() {
	dir, err := os.MkdirTemp("", "trove-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := objects.OpenStore(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	opt := objects.WriteOptions{Params: objects.DefaultChunkerParams()}

	data := "hello, trove\n"
	c, err := s.WriteContent(ctx, strings.NewReader(data), int64(len(data)), opt)
	if err != nil {
		log.Fatal(err)
	}
	// Chunks become durable and readable when their pack is written.
	if err := s.Flush(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("digest:", c.Digest)
	fmt.Println("size:", c.Size, "chunks:", c.Chunks)
	// 13 bytes of data plus a 48-byte recipe node listing one chunk.
	fmt.Println("new bytes:", c.NewBytes, "in", c.NewChunks, "chunks")

	var out bytes.Buffer
	if _, err := s.ReadContent(ctx, c.Recipe, &out); err != nil {
		log.Fatal(err)
	}
	fmt.Print(out.String())

	// Writing the same content again stores nothing.
	again, err := s.WriteContent(ctx, strings.NewReader(data), int64(len(data)), opt)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same recipe:", again.Recipe == c.Recipe, "new bytes:", again.NewBytes)
	// Output:
	// digest: blake3:3826ba093504df62ebc7067f3ea58291e4473ecffde0680ce75db38b5abba450
	// size: 13 chunks: 1
	// new bytes: 61 in 2 chunks
	// hello, trove
	// same recipe: true new bytes: 0
}

// Content of at most one chunk can skip its recipe: it is the chunk named by its
// digest.
func ExampleStore_ReadInline() {
	dir, err := os.MkdirTemp("", "trove-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := objects.OpenStore(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	opt := objects.WriteOptions{Params: objects.DefaultChunkerParams(), Inline: true}
	c, err := s.WriteContent(context.Background(), strings.NewReader("small\n"), -1, opt)
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("recipe:", c.Recipe.IsZero(), "new bytes:", c.NewBytes)
	if _, err := s.ReadInline(c.Digest, c.Size, os.Stdout); err != nil {
		log.Fatal(err)
	}
	// Output:
	// recipe: true new bytes: 6
	// small
}

// A directory's digest is what this pipeline prints for it, with files
// train.csv ("x,y\n1,2\n") and img/cat.png ("PNG"):
//
//	cd DIR && find . -type f -printf '%P\n' | LC_ALL=C sort | xargs -r -d '\n' b3sum -- | b3sum
func ExampleTreeDigest() {
	entries := []objects.TreeEntry{
		{Path: "train.csv", Mode: objects.ModeFile, Size: 8, Digest: objects.Hash([]byte("x,y\n1,2\n"))},
		{Path: "img/cat.png", Mode: objects.ModeFile, Size: 3, Digest: objects.Hash([]byte("PNG"))},
	}
	objects.SortTree(entries)
	fmt.Println(objects.TreeDigest(entries).Hex())
	fmt.Print(string(objects.EncodeTree(entries)))
	// Output:
	// 4891800ebae61a3ebbef0007df24584226527563e0418e1269e5d56c93a9e5b3
	// trove-tree 1
	// 100644 3 2a5cea07053bb0028eeea483ba8b29b87652ef8f430e23a88226bc4095a98783 - img/cat.png
	// 100644 8 a69a9cf853b37cdfb3f535926f50730c30c09f5df3e0ec71d6f8eb7f010dcf8f - train.csv
}
