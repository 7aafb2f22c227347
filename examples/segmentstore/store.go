// Package segmentstore is a tiny replicated log store, the software behind
// the "deleting a replicated topic leaves segment files open" incident.
//
// A Store keeps topics; a topic has partitions; each partition is kept by
// Replicas brokers, and every replica writes its records to a segment file
// and an index file under root/broker-R/TOPIC-P/. DeleteTopic closes every
// replica's files and removes the topic's directories.
//
// With Buggy set, DeleteTopic reproduces the incident: it removes the
// directories and closes the leader replicas' files, but the follower
// replicas are still held by the replica fetcher, and their files are never
// closed. The process keeps one descriptor per segment and index file on a
// deleted file: disk space that is never freed, and "too many open files"
// after enough topics come and go.
package segmentstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Segment and index file names of a partition's first (and here only) segment.
const (
	SegmentName = "00000000000000000000.log"
	IndexName   = "00000000000000000000.index"
)

// Store is a log store rooted at a directory.
type Store struct {
	// Replicas is how many brokers keep each partition (2 if zero):
	// replica 0 leads, the others follow.
	Replicas int
	// Buggy makes DeleteTopic leave the followers' files open, as in the
	// incident.
	Buggy bool

	root string

	mu     sync.Mutex
	topics map[string][]*partition
	// fetcher holds the follower replicas it copies records to; a buggy
	// DeleteTopic leaves them here, files open.
	fetcher []*replica
}

type partition struct {
	replicas []*replica
}

// replica is one broker's copy of a partition: a segment and its index.
type replica struct {
	dir     string
	segment *os.File
	index   *os.File
	offset  int64 // next record's offset in the segment
	records uint64
}

// New returns a store that keeps its files under root.
func New(root string) *Store {
	return &Store{root: root, topics: make(map[string][]*partition)}
}

func (s *Store) replicas() int {
	if s.Replicas > 0 {
		return s.Replicas
	}
	return 2
}

// Dir returns the directory replica r of partition p of topic keeps its
// files in.
func (s *Store) Dir(topic string, p, r int) string {
	return filepath.Join(s.root, fmt.Sprintf("broker-%d", r), fmt.Sprintf("%s-%d", topic, p))
}

// CreateTopic creates topic with the given number of partitions, opening a
// segment and an index file for every replica of every partition.
func (s *Store) CreateTopic(topic string, partitions int) error {
	if partitions < 1 {
		return fmt.Errorf("segmentstore: topic %q: want at least one partition, got %d", topic, partitions)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.topics[topic]; ok {
		return fmt.Errorf("segmentstore: topic %q already exists", topic)
	}
	var parts []*partition
	var followers []*replica
	for p := range partitions {
		part := &partition{}
		for r := range s.replicas() {
			rep, err := openReplica(s.Dir(topic, p, r))
			if err != nil {
				closeAll(parts)
				part.close()
				s.removeDirs(topic, partitions)
				return err
			}
			part.replicas = append(part.replicas, rep)
		}
		parts = append(parts, part)
		followers = append(followers, part.replicas[1:]...)
	}
	s.topics[topic] = parts
	s.fetcher = append(s.fetcher, followers...)
	return nil
}

func openReplica(dir string) (*replica, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	seg, err := os.OpenFile(filepath.Join(dir, SegmentName), os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	idx, err := os.OpenFile(filepath.Join(dir, IndexName), os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		seg.Close()
		return nil, err
	}
	return &replica{dir: dir, segment: seg, index: idx}, nil
}

// Append writes record to partition p of topic, on every replica: the
// record, length-prefixed, to the segment, and its offset to the index.
func (s *Store) Append(topic string, p int, record []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts, ok := s.topics[topic]
	if !ok {
		return fmt.Errorf("segmentstore: no topic %q", topic)
	}
	if p < 0 || p >= len(parts) {
		return fmt.Errorf("segmentstore: topic %q has %d partitions, not partition %d", topic, len(parts), p)
	}
	for _, r := range parts[p].replicas {
		if err := r.append(record); err != nil {
			return err
		}
	}
	return nil
}

func (r *replica) append(record []byte) error {
	var entry [8]byte
	binary.BigEndian.PutUint64(entry[:], uint64(r.offset))
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(record)))
	frame = append(frame, record...)
	if _, err := r.segment.Write(frame); err != nil {
		return err
	}
	if _, err := r.index.Write(entry[:]); err != nil {
		return err
	}
	r.offset += int64(len(frame))
	r.records++
	return nil
}

// Records returns how many records partition p of topic holds on its leader.
func (s *Store) Records(topic string, p int) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts, ok := s.topics[topic]
	if !ok || p < 0 || p >= len(parts) {
		return 0, fmt.Errorf("segmentstore: no partition %s-%d", topic, p)
	}
	return parts[p].replicas[0].records, nil
}

// DeleteTopic closes the topic's files and removes its directories.
func (s *Store) DeleteTopic(topic string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts, ok := s.topics[topic]
	if !ok {
		return fmt.Errorf("segmentstore: no topic %q", topic)
	}
	delete(s.topics, topic)
	var errs []error
	for _, part := range parts {
		errs = append(errs, part.replicas[0].close())
		for _, r := range part.replicas[1:] {
			if s.Buggy {
				continue // BUG: the fetcher still holds the follower; its files stay open
			}
			s.unfetch(r)
			errs = append(errs, r.close())
		}
	}
	errs = append(errs, s.removeDirs(topic, len(parts)))
	return errors.Join(errs...)
}

// unfetch removes r from the fetcher's replicas.
func (s *Store) unfetch(r *replica) {
	for i, f := range s.fetcher {
		if f == r {
			s.fetcher = append(s.fetcher[:i], s.fetcher[i+1:]...)
			return
		}
	}
}

func (s *Store) removeDirs(topic string, partitions int) error {
	var errs []error
	for p := range partitions {
		for r := range s.replicas() {
			errs = append(errs, os.RemoveAll(s.Dir(topic, p, r)))
		}
	}
	return errors.Join(errs...)
}

// Close closes every file the store holds, the fetcher's included, as a
// broker does when it shuts down. The topics' files stay on disk.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for topic, parts := range s.topics {
		for _, part := range parts {
			errs = append(errs, part.replicas[0].close())
		}
		delete(s.topics, topic)
	}
	for _, r := range s.fetcher {
		errs = append(errs, r.close())
	}
	s.fetcher = nil
	return errors.Join(errs...)
}

func (r *replica) close() error {
	return errors.Join(r.segment.Close(), r.index.Close())
}

func (p *partition) close() {
	for _, r := range p.replicas {
		r.close()
	}
}

func closeAll(parts []*partition) {
	for _, p := range parts {
		p.close()
	}
}
