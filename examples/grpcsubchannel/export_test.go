package grpcsubchannel

// CloseWatch releases what a buggy Close leaves open, so tests that leak on
// purpose can end clean.
func (c *Client) CloseWatch() error { return c.closeWatch() }
