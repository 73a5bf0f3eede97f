// What the Go test programs share (each is built from its own file and this one): messages as JSON lines, as for
// clients.py: {"key", "value", "headers": [[k, v]], "timestamp", "partition"} (+ "offset" out).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"
)

type message struct {
	Key       *string     `json:"key"`
	Value     *string     `json:"value"`
	Headers   [][2]string `json:"headers"`
	Timestamp int64       `json:"timestamp"`
	Partition int32       `json:"partition"`
	Offset    *int64      `json:"offset,omitempty"`
}

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
	os.Exit(1)
}

func emit(v interface{}) {
	line, err := json.Marshal(v)
	if err != nil {
		fail("json", err)
	}
	fmt.Println(string(line))
}

// readMessages reads stdin's messages, one JSON line each.
func readMessages() []message {
	var out []message
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 4<<20), 4<<20)
	for in.Scan() {
		var m message
		if err := json.Unmarshal(in.Bytes(), &m); err != nil {
			fail("input", err)
		}
		out = append(out, m)
	}
	return out
}

func bytesOf(s *string) []byte {
	if s == nil {
		return nil
	}
	return []byte(*s)
}

func stringOf(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

func millis(t time.Time) int64 {
	return t.UnixNano() / int64(time.Millisecond)
}

func fromMillis(ms int64) time.Time {
	return time.Unix(0, ms*int64(time.Millisecond))
}

// intArg is a command-line argument as a number; the program ends if it is not one.
func intArg(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		fail("argument", err)
	}
	return n
}

// commandLine is the program's command and bootstrap address, and the arguments after them; the program ends
// without them.
func commandLine() (command, bootstrap string, args []string) {
	if len(os.Args) < 3 {
		fail("usage", fmt.Errorf("clients COMMAND BOOTSTRAP [ARGS]"))
	}
	return os.Args[1], os.Args[2], os.Args[3:]
}
