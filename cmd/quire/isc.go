package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/quiremail/quire/internal/convert"
)

// isc runs the converter ("indexed search converter") commands. Only
// `convert FILE` exists so far: it prints what the converter extracts from
// a file, for operators to check what search will find in it.
func (c *cli) isc(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "convert" {
		return errors.New("isc: expected convert FILE [--type CONTENT-TYPE] [--charset CHARSET]")
	}
	fs := flag.NewFlagSet("isc convert", flag.ContinueOnError)
	ct := fs.String("type", "", "the part's content type; default: from the file name's extension")
	cs := fs.String("charset", "", "the charset of a text part")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if err := want(pos, 1, "one FILE"); err != nil {
		return err
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		return fmt.Errorf("isc convert: %w", err)
	}
	conv := convert.New(convert.Options{})
	defer conv.Close()
	name := pos[0][strings.LastIndexByte(pos[0], '/')+1:]
	if convert.Kind(*ct, name) == convert.KindMessage {
		// A whole message: each part's text, in order.
		failed := 0
		for _, r := range conv.Message(ctx, data) {
			fmt.Fprintf(c.stdout, "--- %s\n%s\n", r.Kind, r.Text)
			if r.Err != nil {
				fmt.Fprintf(c.stderr, "quire: isc convert: a %s part: %v\n", r.Kind, r.Err)
				failed++
			}
		}
		if failed > 0 {
			return fmt.Errorf("isc convert: %d part(s) could not be converted (indexed by their names only)", failed)
		}
		return nil
	}
	r := conv.Convert(ctx, *ct, *cs, name, data)
	if r.Err != nil {
		return fmt.Errorf("isc convert: %s: %w (it would be indexed by its name only)", r.Kind, r.Err)
	}
	fmt.Fprintln(c.stdout, r.Text)
	return nil
}
