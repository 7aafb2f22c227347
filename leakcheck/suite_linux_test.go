package leakcheck_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/suite"

	"github.com/leakcheck/go/leakcheck"
)

// leakySuite checks every test with leakcheck from SetupTest, the way
// testify users do.
type leakySuite struct{ suite.Suite }

func (s *leakySuite) SetupTest() {
	leakcheck.Check(s.T(), leakcheck.WithTimeout(200*time.Millisecond))
}

func (s *leakySuite) TestClean() {
	done := make(chan struct{})
	go func() { close(done) }()
	<-done
}

func (s *leakySuite) TestLeaky() {
	go func() { <-forever }()
}

func TestScenarioSuite(t *testing.T) {
	scenario(t)
	suite.Run(t, new(leakySuite))
}

func TestTestifySuite(t *testing.T) {
	out, _ := runChild(t, "scenarios", "-test.run=^TestScenarioSuite$", "-test.v")
	assert.Contains(t, out, "--- PASS: TestScenarioSuite/TestClean", out)
	assert.Contains(t, out, "--- FAIL: TestScenarioSuite/TestLeaky", out)
	leaky := section(out, "=== RUN   TestScenarioSuite/TestLeaky", "--- FAIL: TestScenarioSuite/TestLeaky")
	assert.Contains(t, leaky, "goroutines (1):")
	assert.Contains(t, leaky, "(*leakySuite).TestLeaky.func1 [chan receive]")
}

func TestScenarioSubtests(t *testing.T) {
	scenario(t)
	leakcheck.Check(t, leakcheck.WithTimeout(200*time.Millisecond))
	t.Run("clean", func(t *testing.T) {
		leakcheck.Check(t)
	})
	t.Run("leaky", func(t *testing.T) {
		leakcheck.Check(t, leakcheck.WithTimeout(200*time.Millisecond))
		go func() { <-forever }()
	})
}

func TestSubtests(t *testing.T) {
	out, _ := runChild(t, "scenarios", "-test.run=^TestScenarioSubtests$", "-test.v")
	assert.Contains(t, out, "--- PASS: TestScenarioSubtests/clean", out)
	assert.Contains(t, out, "--- FAIL: TestScenarioSubtests/leaky", out)
	assert.Equal(t, 1, strings.Count(out, "leakcheck: 1 leaked after waiting"), "the leak fails the subtest once; the parent, already failed through it, logs it:\n%s", out)
	assert.Contains(t, out, "the test already failed, so what it left behind is logged, not failed")
	assert.NotContains(t, out, "not checked: another test ran at the same time", "a subtest nests in its parent's window; it is not a parallel sibling")
}
