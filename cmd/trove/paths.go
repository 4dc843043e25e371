package main

import "path/filepath"

func filepathRel(base, target string) (string, error) {
	if b, err := filepath.EvalSymlinks(base); err == nil {
		base = b
	}
	p, err := filepath.Rel(base, target)
	return filepath.ToSlash(p), err
}
