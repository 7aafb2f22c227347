// Package mainleak is a broker that delivers messages to subscribers.
package mainleak

// Broker fans messages out to its subscribers.
type Broker struct {
	subs []chan string
}

// Subscribe returns a channel that receives every message published, and
// starts the goroutine that delivers to it.
//
// The bug the tests catch: there is no Unsubscribe, and the goroutine
// waits for messages forever.
func (b *Broker) Subscribe(deliver func(string)) {
	c := make(chan string)
	b.subs = append(b.subs, c)
	go b.deliver(c, deliver)
}

func (b *Broker) deliver(c chan string, f func(string)) {
	for m := range c {
		f(m)
	}
}

// Publish sends m to every subscriber.
func (b *Broker) Publish(m string) {
	for _, c := range b.subs {
		c <- m
	}
}
