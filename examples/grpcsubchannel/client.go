// Package grpcsubchannel is a gRPC client wrapper that keeps a second
// connection to its backend, the software behind the "a second subchannel
// to the same backend never orphans its socket after GOAWAY" incident.
//
// A Client talks to one backend through two gRPC connections (pick_first,
// the default policy): one for calls (Check), and one that watches the
// backend's serving status with the standard health service's streaming
// Watch RPC, re-establishing the watch whenever the stream ends. Close
// stops the watch and closes both connections.
//
// Backends end connections themselves: a server with MaxConnectionAge sends
// GOAWAY and the client moves new calls to a new connection, and a server's
// GracefulStop sends GOAWAY to all. A connection that still carries a
// stream stays open after GOAWAY until that stream ends.
//
// With Dialer.Buggy set, Close reproduces the incident: it closes only the
// calls connection. The watch connection and its stream are never closed,
// so every client ever made keeps a socket ESTABLISHED on each side (the
// server never closes a connection with a live stream, GOAWAY or not) and
// the goroutines of a gRPC connection, a transport and a stream.
package grpcsubchannel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Dialer makes Clients.
type Dialer struct {
	// Buggy makes Client.Close leave the watch connection open, as in the
	// incident.
	Buggy bool
}

// Client is a connection to one backend that also watches its health.
type Client struct {
	buggy   bool
	conn    *grpc.ClientConn // calls
	watch   *grpc.ClientConn // the second connection: health watch
	cancel  context.CancelFunc
	watched chan struct{} // closed when the watch goroutine returns
	serving atomic.Bool
	closed  sync.Once
}

// Dial connects to the backend at target (host:port) and waits until the
// watch has reported the backend's status once, or ctx is done.
func (d Dialer) Dial(ctx context.Context, target string) (*Client, error) {
	creds := grpc.WithTransportCredentials(insecure.NewCredentials())
	conn, err := grpc.NewClient(target, creds)
	if err != nil {
		return nil, fmt.Errorf("grpcsubchannel: %w", err)
	}
	watch, err := grpc.NewClient(target, creds)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("grpcsubchannel: %w", err), conn.Close())
	}
	wctx, cancel := context.WithCancel(context.Background())
	c := &Client{buggy: d.Buggy, conn: conn, watch: watch, cancel: cancel, watched: make(chan struct{})}
	first := make(chan struct{})
	go c.watchHealth(wctx, first)
	select {
	case <-first:
		return c, nil
	case <-ctx.Done():
		c.closeWatch()
		c.conn.Close()
		return nil, fmt.Errorf("grpcsubchannel: waiting for the backend's health: %w", ctx.Err())
	}
}

// watchHealth keeps a Watch stream open on the watch connection until ctx
// is cancelled, starting a new one when a stream ends.
func (c *Client) watchHealth(ctx context.Context, first chan struct{}) {
	defer close(c.watched)
	var once sync.Once
	hc := healthpb.NewHealthClient(c.watch)
	for {
		stream, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
		for err == nil {
			var resp *healthpb.HealthCheckResponse
			if resp, err = stream.Recv(); err == nil {
				c.serving.Store(resp.Status == healthpb.HealthCheckResponse_SERVING)
				once.Do(func() { close(first) })
			}
		}
		c.serving.Store(false)
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Serving reports whether the backend last said it was serving.
func (c *Client) Serving() bool { return c.serving.Load() }

// Check asks the backend for its health with a unary call.
func (c *Client) Check(ctx context.Context) (bool, error) {
	resp, err := healthpb.NewHealthClient(c.conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return false, err
	}
	return resp.Status == healthpb.HealthCheckResponse_SERVING, nil
}

// Close stops the health watch and closes both connections.
func (c *Client) Close() error {
	if c.buggy {
		return c.conn.Close() // BUG: the watch connection is never closed
	}
	return errors.Join(c.closeWatch(), c.conn.Close())
}

// closeWatch stops the health watch and closes its connection.
func (c *Client) closeWatch() error {
	var err error
	c.closed.Do(func() {
		c.cancel()
		<-c.watched
		err = c.watch.Close()
	})
	return err
}
