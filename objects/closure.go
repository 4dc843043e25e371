package objects

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

// Ensure makes the given chunks present in the store (for example by fetching them
// from a remote), or returns an error. A nil Ensure means "they must already be
// here".
type Ensure func(ctx context.Context, ids []ID) error

// ensure calls fn for the ids the store lacks.
func (s *Store) ensure(ctx context.Context, fn Ensure, ids []ID) error {
	missing := s.Missing(ids)
	if len(missing) == 0 {
		return nil
	}
	if fn == nil {
		return &MissingError{ID: missing[0]}
	}
	if err := fn(ctx, missing); err != nil {
		return err
	}
	for _, id := range missing {
		if !s.Has(id) {
			return &MissingError{ID: id}
		}
	}
	return nil
}

// RecipeChunks lists what content needs: the recipe's own chunks (meta: the top
// node and any intermediate pieces) and its data chunks, in order. Recipe chunks
// the store lacks are obtained level by level through ensure, one batch per level;
// data chunks are listed, not fetched.
func (s *Store) RecipeChunks(ctx context.Context, tops []ID, ensure Ensure) (meta []ID, data []RecipeEntry, err error) {
	if err := s.ensure(ctx, ensure, tops); err != nil {
		return nil, nil, err
	}
	for _, top := range tops {
		node, err := s.ReadChunk(top, nil)
		if err != nil {
			return nil, nil, err
		}
		meta = append(meta, top)
		level, body, err := ParseRecipeNode(node)
		if err != nil {
			return nil, nil, fmt.Errorf("recipe %s: %w", top.Short(), err)
		}
		for ; level > 0; level-- {
			pieces, err := parseAll(body)
			if err != nil {
				return nil, nil, fmt.Errorf("recipe %s: %w", top.Short(), err)
			}
			ids := make([]ID, len(pieces))
			for i, p := range pieces {
				ids[i] = p.ID
			}
			if err := s.ensure(ctx, ensure, ids); err != nil {
				return nil, nil, err
			}
			meta = append(meta, ids...)
			var next bytes.Buffer
			var buf []byte
			for _, p := range pieces {
				b, err := s.ReadChunk(p.ID, buf)
				if err != nil {
					return nil, nil, err
				}
				if uint64(len(b)) != p.Size {
					return nil, nil, fmt.Errorf("%w: recipe piece %s has %d bytes, recipe says %d", ErrCorrupt, p.ID.Short(), len(b), p.Size)
				}
				next.Write(b)
				buf = b
			}
			body = next.Bytes()
		}
		entries, err := parseAll(body)
		if err != nil {
			return nil, nil, fmt.Errorf("recipe %s: %w", top.Short(), err)
		}
		data = append(data, entries...)
	}
	return meta, data, nil
}

func parseAll(body []byte) ([]RecipeEntry, error) {
	if len(body)%recipeEntryLen != 0 {
		return nil, fmt.Errorf("%w: recipe has a partial entry", ErrCorrupt)
	}
	er := &entryReader{r: bytes.NewReader(body)}
	out := make([]RecipeEntry, 0, len(body)/recipeEntryLen)
	for {
		e, err := er.next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
}
