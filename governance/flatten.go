package governance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxParamsSize and MaxMetricsSize bound what ParseParams and ParseMetrics read.
const (
	MaxParamsSize  = 1 << 20
	MaxMetricsSize = 1 << 20
)

// ParseParams reads a parameters file, YAML or JSON (which is YAML), whose top
// level is a mapping, and flattens it to dotted keys with the scalar values as
// written: {"train": {"lr": 1e-3, "layers": [64, 32]}} gives train.lr=1e-3,
// train.layers.0=64, train.layers.1=32. Keeping the text as written (1e-3 stays
// 1e-3, not 0.001) is what makes the record match the file. A null is "null",
// an empty mapping "{}", an empty list "[]". Two keys that flatten to the same
// name are an error.
func ParseParams(b []byte) (map[string]string, error) {
	if len(b) > MaxParamsSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrParams, MaxParamsSize)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return map[string]string{}, nil // an empty file: no parameters
		}
		return nil, fmt.Errorf("%w: %v", ErrParams, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: more than one YAML document", ErrParams)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return map[string]string{}, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: line %d: the top level must be a mapping of names to values", ErrParams, root.Line)
	}
	out := map[string]string{}
	if err := flattenYAML(root, "", out, 0); err != nil {
		return nil, err
	}
	return out, nil
}

func flattenYAML(n *yaml.Node, prefix string, out map[string]string, depth int) error {
	if depth > 64 {
		return fmt.Errorf("%w: line %d: nested more than 64 levels", ErrParams, n.Line)
	}
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	set := func(k, v string) error {
		if _, dup := out[k]; dup {
			return fmt.Errorf("%w: line %d: parameter %q is given twice", ErrParams, n.Line, k)
		}
		out[k] = v
		return nil
	}
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch n.Kind {
	case yaml.MappingNode:
		if len(n.Content) == 0 {
			return set(prefix, "{}")
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.Value == "" {
				return fmt.Errorf("%w: line %d: keys must be non-empty strings", ErrParams, k.Line)
			}
			if k.Tag == "!!merge" {
				return fmt.Errorf("%w: line %d: YAML merge keys (<<) are not supported; write the values out", ErrParams, k.Line)
			}
			if err := flattenYAML(v, join(k.Value), out, depth+1); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return set(prefix, "[]")
		}
		for i, v := range n.Content {
			if err := flattenYAML(v, join(strconv.Itoa(i)), out, depth+1); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		if prefix == "" {
			return fmt.Errorf("%w: line %d: a value without a name", ErrParams, n.Line)
		}
		v := n.Value
		if n.Tag == "!!null" {
			v = "null"
		}
		return set(prefix, v)
	default:
		return fmt.Errorf("%w: line %d: unsupported YAML node", ErrParams, n.Line)
	}
	return nil
}

// ParseMetrics reads a metrics file: a JSON object whose leaves are finite
// numbers, nested objects flattened with dots ({"eval": {"acc": 0.9}} gives
// eval.acc=0.9). Strings, booleans, lists, null and non-finite numbers (NaN and
// Infinity, which Python's json module writes, or 1e999) are errors that name
// the metric.
func ParseMetrics(b []byte) (map[string]float64, error) {
	if len(b) > MaxMetricsSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrMetrics, MaxMetricsSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, metricsSyntax(b, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrMetrics)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: want a JSON object of metric names to numbers", ErrMetrics)
	}
	out := map[string]float64{}
	if err := flattenMetrics(obj, "", out, 0); err != nil {
		return nil, err
	}
	return out, nil
}

func flattenMetrics(obj map[string]any, prefix string, out map[string]float64, depth int) error {
	if depth > 64 {
		return fmt.Errorf("%w: nested more than 64 levels", ErrMetrics)
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		if k == "" {
			return fmt.Errorf("%w: a metric with an empty name (under %q)", ErrMetrics, prefix)
		}
		switch x := obj[k].(type) {
		case json.Number:
			f, err := strconv.ParseFloat(x.String(), 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return fmt.Errorf("%w: metric %q is %s, which is not a finite number", ErrMetrics, name, x)
			}
			if _, dup := out[name]; dup {
				return fmt.Errorf("%w: metric %q is given twice", ErrMetrics, name)
			}
			out[name] = f
		case map[string]any:
			if err := flattenMetrics(x, name, out, depth+1); err != nil {
				return err
			}
		case nil:
			return fmt.Errorf("%w: metric %q is null; want a number", ErrMetrics, name)
		default:
			return fmt.Errorf("%w: metric %q is a %s; want a number (or an object of them)", ErrMetrics, name, jsonType(x))
		}
	}
	return nil
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case []any:
		return "list"
	}
	return fmt.Sprintf("%T", v)
}

// metricsSyntax explains a JSON syntax error, naming NaN and Infinity, which are
// not JSON but are what Python writes for non-finite floats.
func metricsSyntax(b []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off := min(int(se.Offset), len(b))
		line := 1 + bytes.Count(b[:off], []byte("\n"))
		// The offending byte is at Offset-1; look around it for a bare word.
		start := max(0, off-1)
		for start > 0 && isWordByte(b[start-1]) {
			start--
		}
		end := start
		for end < len(b) && isWordByte(b[end]) {
			end++
		}
		switch w := string(b[start:end]); strings.TrimPrefix(w, "-") {
		case "NaN", "Infinity", "inf", "nan", "Inf":
			return fmt.Errorf("%w: line %d: %s is not a finite number (metrics must be finite)", ErrMetrics, line, w)
		}
		return fmt.Errorf("%w: line %d: %v", ErrMetrics, line, err)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: empty or truncated JSON", ErrMetrics)
	}
	return fmt.Errorf("%w: %v", ErrMetrics, err)
}

func isWordByte(c byte) bool {
	return c == '-' || c == '+' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}
