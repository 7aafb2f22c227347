package mainverify

import (
	"testing"
	"time"
)

func TestSetGet(t *testing.T) {
	c := Default()
	c.Set("a", "1", time.Hour)
	if v, ok := c.Get("a"); !ok || v != "1" {
		t.Fatalf("Get(a) = %q, %v", v, ok)
	}
}

func TestExpired(t *testing.T) {
	c := Default()
	c.Set("b", "2", -time.Second)
	if _, ok := c.Get("b"); ok {
		t.Fatal("expired entry returned")
	}
}
