// Package maincurrent is a client of a line-based echo backend.
package maincurrent

import (
	"bufio"
	"net"
	"strings"
)

// Echo sends msg to the backend at addr and returns its reply.
func Echo(addr, msg string) (string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if _, err := c.Write([]byte(msg + "\n")); err != nil {
		return "", err
	}
	reply, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSuffix(reply, "\n"), err
}
