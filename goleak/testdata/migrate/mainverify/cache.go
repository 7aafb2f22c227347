// Package mainverify is a cache whose default instance expires entries on
// a goroutine that runs for the life of the process.
package mainverify

import (
	"sync"
	"time"
)

// Cache maps keys to values that expire.
type Cache struct {
	mu      sync.Mutex
	entries map[string]entry
}

type entry struct {
	value   string
	expires time.Time
}

var (
	defaultOnce  sync.Once
	defaultCache *Cache
)

// Default returns the process's cache, starting its janitor on first use.
func Default() *Cache {
	defaultOnce.Do(func() {
		defaultCache = &Cache{entries: map[string]entry{}}
		go defaultCache.janitor(time.Minute)
	})
	return defaultCache
}

func (c *Cache) janitor(every time.Duration) {
	for range time.Tick(every) {
		c.mu.Lock()
		for k, e := range c.entries {
			if time.Now().After(e.expires) {
				delete(c.entries, k)
			}
		}
		c.mu.Unlock()
	}
}

// Set stores value under key for ttl.
func (c *Cache) Set(key, value string, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[key] = entry{value, time.Now().Add(ttl)}
}

// Get returns the value under key, if it has not expired.
func (c *Cache) Get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || time.Now().After(e.expires) {
		return "", false
	}
	return e.value, true
}
