// Command floor is the benchmark's hand-written yardstick server (see
// package gatehouse/bench/internal/floor): it answers GET /me and
// GET /check?feature=KEY for a bearer token over Gatehouse's database.
// The load run (bench/load) starts it as a child process.
//
//	go run ./bench/floor -db sqlite -dsn data/gatehouse.db -listen 127.0.0.1:8081
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"gatehouse/bench/internal/floor"
)

func main() {
	driver := flag.String("db", "sqlite", "database driver: sqlite or postgres")
	dsn := flag.String("dsn", "", "database file (SQLite) or URL (PostgreSQL)")
	listen := flag.String("listen", "127.0.0.1:8081", "address to listen on")
	flag.Parse()
	d, err := floor.Open(*driver, *dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
	defer d.Close()
	srv := &http.Server{
		Addr:              *listen,
		Handler:           floor.New(d, *driver),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}
