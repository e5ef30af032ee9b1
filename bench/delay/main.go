// Command delay is a TCP relay that holds every byte for -delay in each
// direction, so that a benchmark on one machine sees a link with a round
// trip of twice -delay (a WAN, another data centre) without touching the
// machine's network settings. It delays, it does not limit bandwidth:
// bytes sent together arrive together, -delay later.
//
//	go run ./bench/delay -listen 127.0.0.1:22993 -to 127.0.0.1:22143 -delay 5ms
//
// docs/BENCHMARKS.md ("Importing over IMAP") times quire import imap
// through it.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "where to listen")
	to := flag.String("to", "", "the server, host:port")
	delay := flag.Duration("delay", 5*time.Millisecond, "how long each byte is held, each way (the round trip is twice this)")
	flag.Parse()
	if *to == "" || *delay < 0 {
		fmt.Fprintln(os.Stderr, "delay: give -to host:port and a -delay of 0 or more")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "delay:", err)
		os.Exit(1)
	}
	fmt.Printf("delay: %s -> %s, %v each way\n", ln.Addr(), *to, *delay)
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "delay:", err)
			os.Exit(1)
		}
		go relay(c, *to, *delay)
	}
}

// relay carries one connection both ways, each delayed.
func relay(client net.Conn, to string, d time.Duration) {
	server, err := net.Dial("tcp", to)
	if err != nil {
		fmt.Fprintln(os.Stderr, "delay:", err)
		client.Close()
		return
	}
	done := make(chan struct{}, 2)
	go func() { pipe(server, client, d); done <- struct{}{} }()
	go func() { pipe(client, server, d); done <- struct{}{} }()
	<-done
	client.Close()
	server.Close()
	<-done
}

// chunk is bytes read at a time.
type chunk struct {
	b  []byte
	at time.Time
}

// pipe copies src to dst, writing each chunk d after it was read.
func pipe(dst io.Writer, src io.Reader, d time.Duration) {
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		for {
			b := make([]byte, 64<<10)
			n, err := src.Read(b)
			if n > 0 {
				q <- chunk{b[:n], time.Now()}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		time.Sleep(time.Until(c.at.Add(d)))
		if _, err := dst.Write(c.b); err != nil {
			for range q { // let the reader end
			}
			return
		}
	}
}
