package objects

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/zeebo/blake3"
)

// IDPrefix is the algorithm tag written before every id's hex form.
const IDPrefix = "blake3:"

// ID names content by the BLAKE3-256 of its bytes. The zero ID is "no object".
type ID [32]byte

// ErrBadID is returned when a string is not a well-formed id.
var ErrBadID = errors.New("malformed object id")

// Hash returns the ID of b.
func Hash(b []byte) ID { return ID(blake3.Sum256(b)) }

// HashReader returns the ID of everything r yields and the number of bytes read.
func HashReader(r io.Reader) (ID, int64, error) {
	h := blake3.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return ID{}, n, err
	}
	var id ID
	h.Sum(id[:0])
	return id, n, nil
}

// String returns the id as "blake3:<64 hex>".
func (id ID) String() string { return IDPrefix + hex.EncodeToString(id[:]) }

// Hex returns the 64 lowercase hex digits, as b3sum prints them.
func (id ID) Hex() string { return hex.EncodeToString(id[:]) }

// Short returns the first 12 hex digits, for people.
func (id ID) Short() string { return id.Hex()[:12] }

// IsZero reports whether id is the zero id.
func (id ID) IsZero() bool { return id == ID{} }

// ParseID parses "blake3:<64 lowercase hex>".
func ParseID(s string) (ID, error) {
	h, ok := strings.CutPrefix(s, IDPrefix)
	if !ok {
		return ID{}, fmt.Errorf("%w %q: want %s followed by 64 hex digits", ErrBadID, s, IDPrefix)
	}
	return ParseHex(h)
}

// ParseHex parses 64 lowercase hex digits.
func ParseHex(h string) (ID, error) {
	var id ID
	if len(h) != 64 || strings.ToLower(h) != h {
		return ID{}, fmt.Errorf("%w %q: want 64 lowercase hex digits", ErrBadID, h)
	}
	if _, err := hex.Decode(id[:], []byte(h)); err != nil {
		return ID{}, fmt.Errorf("%w %q: %v", ErrBadID, h, err)
	}
	return id, nil
}

// MarshalText implements encoding.TextMarshaler ("blake3:<hex>").
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
