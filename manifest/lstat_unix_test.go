//go:build unix

package manifest

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The compact statInfo of a directory walk must tell the stat cache exactly
// what os.Lstat would: size, mtime to the nanosecond, mode and inode.
func TestStatInfoMatchesLstat(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"plain": 0o644, "exec": 0o755} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name), mode); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink("plain", filepath.Join(dir, "link"))
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	ds, err := openDirStatter(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.close()
	for _, name := range []string{"plain", "exec", "link", "sub"} {
		got, err := ds.lstat(name)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got.Name() != want.Name() || got.Size() != want.Size() || got.Mode() != want.Mode() || !got.ModTime().Equal(want.ModTime()) || got.IsDir() != want.IsDir() {
			t.Errorf("%s: statInfo %v %d %v %v, os.Lstat %v %d %v %v", name, got.Name(), got.Size(), got.Mode(), got.ModTime(), want.Name(), want.Size(), want.Mode(), want.ModTime())
		}
		gs, gm, gi := fileKey(got)
		ws, wm, wi := fileKey(want)
		if gs != ws || gm != wm || gi != wi || gi != want.Sys().(*syscall.Stat_t).Ino || gi == 0 {
			t.Errorf("%s: fileKey %d/%d/%d from the walk, %d/%d/%d from os.Lstat", name, gs, gm, gi, ws, wm, wi)
		}
	}
}
