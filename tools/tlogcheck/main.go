// Command tlogcheck verifies the Beilei ledger over its public C2SP tlog-tiles read path with
// golang.org/x/mod's sumdb/tlog and sumdb/note, a client the project did not write (issue 17 part 2).
//
//	tlogcheck -url URL -vkey VKEY [-old FILE] [-entries] [-token TOKEN]
//
// It fetches /checkpoint, checks the log's signature, reads hash tiles through tlog.TileHashReader
// (which checks every tile against the signed root), and proves:
//   - consistency from the older checkpoint in FILE (a signed note) to the newest one;
//   - with -entries, inclusion of every entry of the first entry bundle: public when its entries are of
//     format 2 (personal fields committed), else only with TOKEN (an auditor's).
//
// It prints one line per proof checked and exits non-zero on the first failure.
package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const height = 8

var (
	base    = flag.String("url", "", "the audit service's base URL")
	vkey    = flag.String("vkey", "", "the ledger's note verifier key")
	old     = flag.String("old", "", "a file holding an older signed checkpoint")
	token   = flag.String("token", "", "a bearer token that may read entry bundles of format-1 entries (implies -entries)")
	entries = flag.Bool("entries", false, "prove inclusion of every entry of the first entry bundle")
)

// get fetches one resource; a 429 is waited out as its Retry-After says (a few times), as a polite
// mirror or verifier does.
func get(path string, auth bool) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequest("GET", strings.TrimRight(*base, "/")+"/"+path, nil)
		if err != nil {
			return nil, err
		}
		if auth && *token != "" {
			req.Header.Set("Authorization", "Bearer "+*token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusTooManyRequests && attempt < 5 {
			wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			time.Sleep(time.Duration(max(wait, 1)) * time.Second)
			continue
		}
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
		}
		return body, nil
	}
}

// checkpoint opens a signed note with the log's key and parses the C2SP checkpoint body.
func checkpoint(msg []byte, verifier note.Verifier) (string, tlog.Tree, error) {
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return "", tlog.Tree{}, err
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return "", tlog.Tree{}, errors.New("a checkpoint has an origin, a size and a root hash")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return "", tlog.Tree{}, err
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		return "", tlog.Tree{}, errors.New("bad root hash")
	}
	var h tlog.Hash
	copy(h[:], raw)
	return lines[0], tlog.Tree{N: size, Hash: h}, nil
}

// tiles reads hash tiles at C2SP paths: tile/<L>/<N>[.p/<W>] (sumdb's paths add the height), each
// fetched once: tiles are immutable, and proving many records reads the same few again and again.
type tiles struct{ seen map[string][]byte }

func (tiles) Height() int { return height }

func (r tiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		path := "tile/" + strings.TrimPrefix(t.Path(), "tile/8/")
		data, ok := r.seen[path]
		if !ok {
			var err error
			if data, err = get(path, false); err != nil {
				return nil, err
			}
			r.seen[path] = data
		}
		out[i] = data
	}
	return out, nil
}

func (tiles) SaveTiles([]tlog.Tile, [][]byte) {}

func run() error {
	flag.Parse()
	verifier, err := note.NewVerifier(*vkey)
	if err != nil {
		return err
	}
	msg, err := get("checkpoint", false)
	if err != nil {
		return err
	}
	origin, tree, err := checkpoint(msg, verifier)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	fmt.Printf("checkpoint %s size %d\n", origin, tree.N)
	reader := tlog.TileHashReader(tree, tiles{seen: map[string][]byte{}})

	if *old != "" {
		data, err := os.ReadFile(*old)
		if err != nil {
			return err
		}
		_, before, err := checkpoint(data, verifier)
		if err != nil {
			return fmt.Errorf("older checkpoint: %w", err)
		}
		proof, err := tlog.ProveTree(tree.N, before.N, reader)
		if err != nil {
			return fmt.Errorf("prove consistency: %w", err)
		}
		if err := tlog.CheckTree(proof, tree.N, tree.Hash, before.N, before.Hash); err != nil {
			return fmt.Errorf("consistency %d -> %d: %w", before.N, tree.N, err)
		}
		fmt.Printf("consistent %d %d\n", before.N, tree.N)
	}

	if *entries || *token != "" {
		width := tree.N
		if width > 1<<height {
			width = 1 << height
		}
		path := "tile/entries/000"
		if width < 1<<height {
			path += fmt.Sprintf(".p/%d", width)
		}
		bundle, err := get(path, true)
		if err != nil {
			return err
		}
		for i := int64(0); len(bundle) > 0; i++ {
			if len(bundle) < 2 {
				return errors.New("truncated entry bundle")
			}
			n := int(bundle[0])<<8 | int(bundle[1])
			if len(bundle) < 2+n {
				return errors.New("truncated entry bundle")
			}
			entry := bytes.Clone(bundle[2 : 2+n])
			bundle = bundle[2+n:]
			proof, err := tlog.ProveRecord(tree.N, i, reader)
			if err != nil {
				return fmt.Errorf("prove record %d: %w", i, err)
			}
			if err := tlog.CheckRecord(proof, tree.N, tree.Hash, i, tlog.RecordHash(entry)); err != nil {
				return fmt.Errorf("record %d: %w", i, err)
			}
			fmt.Printf("included %d\n", i)
		}
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tlogcheck:", err)
		os.Exit(1)
	}
}
