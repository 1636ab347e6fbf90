// Go's net/http as a peer of tools/bench/compare (command line and output
// as tools/bench/compare_peer.h and peers/peerlib.py have them):
//
//	go_client load [--concurrency=C] [--requests=N] URL
//	go_client urls [--limit=L] URL...
//
// load: C goroutines share one Transport that keeps C connections to the
// host alive, each sending its next GET when the last body is read. urls:
// a goroutine per URL, at most L requests in flight (a semaphore: Go's
// Transport limits connections per host only), 0 for no limit.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type counter struct {
	ok, failed int64
	once       sync.Once
	why        string
}

func (c *counter) get(client *http.Client, url string) {
	resp, err := client.Get(url)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
	}
	if err != nil {
		atomic.AddInt64(&c.failed, 1)
		c.once.Do(func() { c.why = strings.ReplaceAll(err.Error(), "\n", " ") })
		return
	}
	atomic.AddInt64(&c.ok, 1)
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: go_client load|urls [--concurrency=C] [--requests=N] [--limit=L] URL...")
		os.Exit(2)
	}
	mode := os.Args[1]
	opts := map[string]int{"--concurrency": 1, "--requests": 1, "--limit": 0}
	var urls []string
	for _, a := range os.Args[2:] {
		name, value, found := strings.Cut(a, "=")
		if _, known := opts[name]; found && known {
			n, err := strconv.Atoi(value)
			if err != nil {
				fmt.Fprintln(os.Stderr, "bad number:", a)
				os.Exit(2)
			}
			opts[name] = n
		} else if !strings.HasPrefix(a, "-") {
			urls = append(urls, a)
		} else {
			fmt.Fprintln(os.Stderr, "bad argument:", a)
			os.Exit(2)
		}
	}
	transport := &http.Transport{MaxIdleConns: 0, MaxIdleConnsPerHost: 100000}
	client := &http.Client{Transport: transport}
	var c counter
	var wg sync.WaitGroup
	start := time.Now()
	if mode == "load" {
		transport.MaxConnsPerHost = opts["--concurrency"]
		left := int64(opts["--requests"])
		for i := 0; i < opts["--concurrency"]; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for atomic.AddInt64(&left, -1) >= 0 {
					c.get(client, urls[0])
				}
			}()
		}
	} else {
		limit := opts["--limit"]
		if limit == 0 {
			limit = len(urls)
		}
		slots := make(chan struct{}, limit)
		for _, u := range urls {
			wg.Add(1)
			go func(u string) {
				defer wg.Done()
				slots <- struct{}{}
				c.get(client, u)
				<-slots
			}(u)
		}
	}
	wg.Wait()
	wall := time.Since(start).Seconds()
	fmt.Printf("compare-result ok=%d failed=%d wall_s=%.6f connections=0 why=%s\n", c.ok, c.failed, wall, c.why)
}
