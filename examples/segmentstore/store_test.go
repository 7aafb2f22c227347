package segmentstore_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/examples/segmentstore"
	"github.com/leakcheck/go/leakcheck"
)

// Every test here that leaks on purpose releases what it leaked: the package
// as a whole must end clean.
func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

const partitions = 3

// fill creates topic and writes records to every partition.
func fill(t testing.TB, s *segmentstore.Store, topic string, records int) {
	t.Helper()
	require.NoError(t, s.CreateTopic(topic, partitions))
	for i := range records {
		require.NoError(t, s.Append(topic, i%partitions, fmt.Appendf(nil, "record %d of %s", i, topic)))
	}
}

func TestDeleteTopicClosesEverything(t *testing.T) {
	leakcheck.Check(t)
	root := t.TempDir()
	s := segmentstore.New(root)
	fill(t, s, "orders", 30)
	for p := range partitions {
		n, err := s.Records("orders", p)
		require.NoError(t, err)
		assert.Equal(t, uint64(10), n)
		fi, err := os.Stat(filepath.Join(s.Dir("orders", p, 1), segmentstore.SegmentName))
		require.NoError(t, err)
		assert.Positive(t, fi.Size(), "the follower has the records too")
	}
	require.NoError(t, s.DeleteTopic("orders"))
	for p := range partitions {
		_, err := os.Stat(s.Dir("orders", p, 1))
		assert.ErrorIs(t, err, os.ErrNotExist, "the topic's files are removed")
	}
	require.NoError(t, s.Close())
}

func TestTopicCycleFixed(t *testing.T) {
	s := segmentstore.New(t.TempDir())
	defer s.Close()
	i := 0
	rep := leakcheck.Cycle(t, 20, func() func() {
		i++
		topic := fmt.Sprintf("topic%d", i)
		fill(t, s, topic, 12)
		return func() { require.NoError(t, s.DeleteTopic(topic)) }
	})
	require.NotNil(t, rep)
	assert.Equal(t, 12.0, rep.PerCreate()["fds/file"], "3 partitions × 2 replicas × (segment + index)")
	assert.Empty(t, rep.PerCycle(), "deleting a topic gives back every descriptor")
}

func TestBuggyDeleteIsCaught(t *testing.T) {
	before, err := leakcheck.Take()
	require.NoError(t, err)
	s := segmentstore.New(t.TempDir())
	s.Buggy = true
	defer func() {
		// Release what the bug kept, and prove it is all given back.
		require.NoError(t, s.Close())
		after, err := leakcheck.Find(before)
		require.NoError(t, err)
		assert.False(t, after.Leaked(), "%s", after)
	}()

	i := 0
	topics := make(map[string]bool)
	rep, err := leakcheck.FindCycle(10, func(n int) error {
		for range n {
			i++
			topic := fmt.Sprintf("topic%d", i)
			topics[topic] = true
			fill(t, s, topic, 12)
		}
		return nil
	}, func() error {
		for topic := range topics {
			if err := s.DeleteTopic(topic); err != nil {
				return err
			}
			delete(topics, topic)
		}
		return nil
	}, leakcheck.WithTimeout(200*time.Millisecond))
	require.NoError(t, err)
	t.Logf("%s", rep)

	assert.True(t, rep.Leaked())
	assert.Equal(t, 12.0, rep.PerCreate()["fds/file"])
	assert.Equal(t, map[string]float64{"fds": 6, "fds/deleted file": 6}, rep.PerCycle(),
		"per topic: the follower's segment and index of each of 3 partitions, deleted but open; nothing else")
	assert.Equal(t, 60, rep.Retained.Count(leakcheck.FDs))
	require.Len(t, rep.Retained.Categories, 1)
	require.Len(t, rep.Retained.Categories[0].Groups, 1)
	g := rep.Retained.Categories[0].Groups[0]
	assert.Equal(t, "deleted file", g.Key)
	for _, it := range g.Items {
		item := it.Text
		assert.Contains(t, item, string(filepath.Separator)+"broker-1"+string(filepath.Separator), "only the follower's files: %s", item)
		assert.True(t, strings.HasSuffix(item, segmentstore.SegmentName+" (deleted)") || strings.HasSuffix(item, segmentstore.IndexName+" (deleted)"), item)
	}
}

// TestBuggySingleDelete is the incident's own scenario, checked with Take
// and Find: one topic of three partitions is written and deleted.
func TestBuggySingleDelete(t *testing.T) {
	s := segmentstore.New(t.TempDir())
	s.Buggy = true
	defer s.Close()
	base, err := leakcheck.Take()
	require.NoError(t, err)
	fill(t, s, "payments", 30)
	require.NoError(t, s.DeleteTopic("payments"))
	rep, err := leakcheck.Find(base, leakcheck.WithTimeout(200*time.Millisecond))
	require.NoError(t, err)
	assert.True(t, rep.Leaked())
	assert.Equal(t, map[string]int{"fds": 6, "fds/deleted file": 6}, rep.Counts())
	for p := range partitions {
		_, err := os.Stat(s.Dir("payments", p, 1))
		assert.ErrorIs(t, err, os.ErrNotExist, "the files are gone from the directory tree, not from the process")
	}
}
