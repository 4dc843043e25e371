package manifest

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Column types a profile records.
const (
	ColInt    = "int"
	ColFloat  = "float"
	ColBool   = "bool"
	ColString = "string"
	ColJSON   = "json" // nested objects or arrays (JSON Lines)
	ColNull   = "null" // only empty values seen
)

// maxProfileColumns bounds what a hostile file can make a profile hold.
const maxProfileColumns = 2000

// ProfileFormat returns the tabular format trove profiles for a file name, or "".
func ProfileFormat(name string) string {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, ".csv"):
		return "csv"
	case strings.HasSuffix(n, ".tsv"), strings.HasSuffix(n, ".tab"):
		return "tsv"
	case strings.HasSuffix(n, ".jsonl"), strings.HasSuffix(n, ".ndjson"):
		return "jsonl"
	}
	return ""
}

type colStat struct {
	name  string
	typ   string // "" until a non-null value is seen
	nulls int64
}

func widen(cur, v string) string {
	switch {
	case cur == "" || cur == v:
		return v
	case (cur == ColInt && v == ColFloat) || (cur == ColFloat && v == ColInt):
		return ColFloat
	}
	return ColString
}

func isNullText(s string) bool {
	switch strings.TrimSpace(s) {
	case "", "NA", "N/A", "null", "NULL", "None", "NaN", "nan":
		return true
	}
	return false
}

func textType(s string) string {
	s = strings.TrimSpace(s)
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ColInt
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return ColFloat
	}
	switch strings.ToLower(s) {
	case "true", "false":
		return ColBool
	}
	return ColString
}

// ProfileFile computes the data profile of a CSV, TSV or JSON Lines file: the
// columns with their types and null counts, and the row count. It reads the file
// once, keeping only per-column counters. A file that does not parse as its
// extension says gives an error (and no profile).
func ProfileFile(path, format string) (*Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var cols []*colStat
	var rows int64
	switch format {
	case "csv", "tsv":
		r := csv.NewReader(br)
		if format == "tsv" {
			r.Comma = '\t'
		}
		r.ReuseRecord = true
		r.FieldsPerRecord = 0
		head, err := r.Read()
		if err == io.EOF {
			return &Profile{Format: format}, nil
		}
		if err != nil {
			return nil, err
		}
		if len(head) > maxProfileColumns {
			return nil, errors.New("too many columns to profile")
		}
		for _, h := range head {
			cols = append(cols, &colStat{name: h})
		}
		for {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			rows++
			for i, c := range cols {
				if i >= len(rec) || isNullText(rec[i]) {
					c.nulls++
					continue
				}
				c.typ = widen(c.typ, textType(rec[i]))
			}
		}
	case "jsonl":
		byName := map[string]*colStat{}
		dec := json.NewDecoder(br)
		dec.UseNumber()
		for {
			var obj map[string]any
			err := dec.Decode(&obj)
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			rows++
			for k, v := range obj {
				c := byName[k]
				if c == nil {
					if len(byName) >= maxProfileColumns {
						return nil, errors.New("too many columns to profile")
					}
					c = &colStat{name: k, nulls: rows - 1}
					byName[k] = c
					cols = append(cols, c)
				}
				var t string
				switch x := v.(type) {
				case nil:
					c.nulls++
					continue
				case json.Number:
					t = ColFloat
					if _, err := x.Int64(); err == nil {
						t = ColInt
					}
				case bool:
					t = ColBool
				case string:
					t = ColString
				default:
					t = ColJSON
				}
				c.typ = widen(c.typ, t)
			}
			for name, c := range byName {
				if _, ok := obj[name]; !ok {
					c.nulls++
				}
			}
		}
		sort.Slice(cols, func(i, j int) bool { return cols[i].name < cols[j].name })
	default:
		return nil, errors.New("not a tabular format")
	}
	p := &Profile{Format: format, Rows: rows}
	for _, c := range cols {
		t := c.typ
		if t == "" {
			t = ColNull
		}
		name := c.name
		if name == "" {
			name = "(unnamed)"
		}
		p.Columns = append(p.Columns, Column{Name: name, Type: t, Nulls: c.nulls})
	}
	return p, nil
}
