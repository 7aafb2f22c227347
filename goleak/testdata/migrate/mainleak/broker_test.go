package mainleak

import "testing"

func TestPublish(t *testing.T) {
	var b Broker
	got := make(chan string, 1)
	b.Subscribe(func(m string) { got <- m })
	b.Publish("hello")
	if m := <-got; m != "hello" {
		t.Fatalf("got %q", m)
	}
}
