package mainfind

import (
	"os"
	"strings"
	"testing"
)

// fixtures are opened once and shared by the tests.
//
// The bug the drop-in catches: nothing ever closes them.
var fixtures = map[string]*os.File{}

func fixture(t *testing.T, name, content string) *os.File {
	t.Helper()
	if f, ok := fixtures[name]; ok {
		f.Seek(0, 0)
		return f
	}
	f, err := os.CreateTemp("", "mainfind-*-"+name)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(f.Name()) // gone when the last test is done with it
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	f.Seek(0, 0)
	fixtures[name] = f
	return f
}

func TestParse(t *testing.T) {
	kv, err := Parse(fixture(t, "basic.conf", "a = 1\nb=2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if kv["a"] != "1" || kv["b"] != "2" {
		t.Fatalf("got %v", kv)
	}
}

func TestParseSkipsJunk(t *testing.T) {
	kv, err := Parse(strings.NewReader("junk\nc=3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(kv) != 1 || kv["c"] != "3" {
		t.Fatalf("got %v", kv)
	}
}
