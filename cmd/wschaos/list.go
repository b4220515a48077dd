package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/wschaos/wschaos/scenarios"
)

type listEntry struct {
	Name        string   `json:"name"`
	Faults      []string `json:"faults"`
	Description string   `json:"description"`
	Clients     int      `json:"clients"`
	TLS         bool     `json:"tls,omitempty"`
	// NeedsServer marks scenarios that need the fake server's cooperation
	// and cannot run against a real upstream.
	NeedsServer bool `json:"needs_server,omitempty"`
}

func cmdList(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("list", stderr, "list [--json]")
	asJSON := fs.Bool("json", false, "print JSON: [{\"name\", \"faults\", \"description\", \"clients\", \"tls\", \"needs_server\"}]")
	if code, ok := parse(fs, args, 0); !ok {
		return code
	}
	var entries []listEntry
	for _, sc := range scenarios.Catalog() {
		entries = append(entries, listEntry{Name: sc.Name, Faults: sc.FaultKinds(), Description: sc.Description,
			Clients: max(sc.Clients, 1), TLS: sc.TLS, NeedsServer: sc.NeedsServer()})
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(entries); err != nil {
			fmt.Fprintln(stderr, "wschaos list:", err)
			return exitFail
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tFAULTS\tCLIENTS\tDESCRIPTION")
	for _, e := range entries {
		desc := e.Description
		if i := strings.Index(desc, ". "); i > 0 {
			desc = desc[:i+1]
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", e.Name, strings.Join(e.Faults, ","), e.Clients, desc)
	}
	tw.Flush()
	return exitOK
}
