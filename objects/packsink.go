package objects

import (
	"os"
	"sync"

	"github.com/zeebo/blake3"
)

// packSink receives a pack's bytes and hands them, in segments, to one
// goroutine that hashes them (the pack's name) and writes them to the file. On a
// large add the pack's BLAKE3 and the write system calls then run beside the
// chunking and chunk hashing instead of after them: with two cores, one busy
// with the input and one with the output.
type packSink struct {
	f     *os.File
	seg   []byte
	queue chan []byte
	free  chan []byte
	done  chan struct{}
	// closed is set once queue is closed (by close or abort, on the writer's
	// goroutine).
	closed bool

	// Set by the goroutine; read once done is closed.
	h   *blake3.Hasher
	err error

	mu     sync.Mutex
	failed error // the goroutine's error, as soon as it happens
}

const (
	sinkSegment = 1 << 20
	sinkDepth   = 8 // segments in flight: at most 8 MiB waits to be written
)

func newPackSink(f *os.File) *packSink {
	s := &packSink{
		f: f, h: blake3.New(),
		queue: make(chan []byte, sinkDepth),
		free:  make(chan []byte, sinkDepth+1),
		done:  make(chan struct{}),
	}
	s.seg = make([]byte, 0, sinkSegment)
	go s.run(s.queue)
	return s
}

func (s *packSink) run(queue <-chan []byte) {
	defer close(s.done)
	var off, kicked int64
	for b := range queue {
		if s.err == nil {
			s.h.Write(b)
			if _, err := s.f.Write(b); err != nil {
				s.err = err
				s.mu.Lock()
				s.failed = err
				s.mu.Unlock()
			}
			off += int64(len(b))
			if off-kicked >= writebackStep {
				startWriteback(s.f, kicked, off-kicked)
				kicked = off
			}
		}
		select {
		case s.free <- b[:0]:
		default:
		}
	}
}

// Write copies p into segments; it fails once writing the file has failed.
func (s *packSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	err := s.failed
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n := len(p)
	for len(p) > 0 {
		k := copy(s.seg[len(s.seg):cap(s.seg)], p)
		s.seg = s.seg[:len(s.seg)+k]
		p = p[k:]
		if len(s.seg) == cap(s.seg) {
			s.queue <- s.seg
			select {
			case s.seg = <-s.free:
			default:
				s.seg = make([]byte, 0, sinkSegment)
			}
		}
	}
	return n, nil
}

// close writes what is left and waits for the goroutine; it returns the BLAKE3
// of everything written.
func (s *packSink) close() (ID, error) {
	if len(s.seg) > 0 {
		s.queue <- s.seg
		s.seg = nil
	}
	s.closed = true
	close(s.queue)
	<-s.done
	var id ID
	if s.err != nil {
		return id, s.err
	}
	s.h.Sum(id[:0])
	return id, nil
}

// abort stops the goroutine, discarding what was not written.
func (s *packSink) abort() {
	if !s.closed {
		s.closed = true
		close(s.queue)
		<-s.done
	}
}
