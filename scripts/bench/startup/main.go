// Command startup does nothing but start: it links the libraries every trove
// binary must (DEVELOPERS.md requires them), so that `make bench` can show
// what starting a process with them costs, side by side with git and trove.
package main

import (
	"fmt"

	_ "github.com/go-git/go-git/v5"
	_ "github.com/minio/minio-go/v7"
	_ "github.com/olekukonko/tablewriter"
	_ "github.com/urfave/cli/v2"
	_ "github.com/zeebo/blake3"
)

func main() { fmt.Println("started") }
