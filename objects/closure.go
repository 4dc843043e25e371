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

// EnsureRecipes makes the recipe chunks of tops (nodes and intermediate
// pieces) present through ensure, one batch per level for all of them, as
// RecipeChunks does, but without listing their data chunks: only the
// intermediate levels' entries are held, never the data entries.
func (s *Store) EnsureRecipes(ctx context.Context, tops []ID, ensure Ensure) error {
	if err := s.ensure(ctx, ensure, tops); err != nil {
		return err
	}
	type level struct {
		top  ID
		n    int    // the level of the pieces body lists
		body []byte // serialized entries of the pieces
	}
	var cur []level
	for _, top := range tops {
		node, err := s.ReadChunk(top, nil)
		if err != nil {
			return err
		}
		n, body, err := ParseRecipeNode(node)
		if err != nil {
			return fmt.Errorf("recipe %s: %w", top.Short(), err)
		}
		if n > 0 {
			cur = append(cur, level{top, n, body})
		}
	}
	for len(cur) > 0 {
		var ids []ID
		pieces := make([][]RecipeEntry, len(cur))
		for i, l := range cur {
			ps, err := parseAll(l.body)
			if err != nil {
				return fmt.Errorf("recipe %s: %w", l.top.Short(), err)
			}
			pieces[i] = ps
			for _, p := range ps {
				ids = append(ids, p.ID)
			}
		}
		if err := s.ensure(ctx, ensure, ids); err != nil {
			return err
		}
		var next []level
		for i, l := range cur {
			if l.n == 1 {
				continue // its pieces list data chunks, which are not fetched here
			}
			var body bytes.Buffer
			for _, p := range pieces[i] {
				b, err := s.ReadChunk(p.ID, nil)
				if err != nil {
					return err
				}
				if uint64(len(b)) != p.Size {
					return fmt.Errorf("%w: recipe piece %s has %d bytes, recipe says %d", ErrCorrupt, p.ID.Short(), len(b), p.Size)
				}
				body.Write(b)
			}
			next = append(next, level{l.top, l.n - 1, body.Bytes()})
		}
		cur = next
	}
	return nil
}
