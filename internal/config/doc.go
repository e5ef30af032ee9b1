// Package config reads, checks and writes Quire's one TOML configuration
// file (DESIGN.md section 6).
//
// cmd/quire is the only importer: it loads the file once at start and hands
// plain values (addresses, sizes, durations) to the packages it wires
// together, so no other package depends on the file's shape. A Config is
// immutable after Load: callers pass it by value and never modify it, and the
// only mutator, Set, works on a copy for Edit, and replaces a list
// wholesale, so it never changes a list another copy shares.
//
// Edit is "quire config set": it changes the one value in the file's
// text (or adds the one key) and keeps everything else byte for byte, so
// comments survive and no default (such as this host's name) is written
// into a file that may be copied to other hosts.
//
// Every key is a tagged struct field; the dotted key a user writes is the
// path of toml tags, so the struct is the one list of keys. Parse and Load
// fill in the defaults of Default for keys the file leaves out. Dump writes
// every key with its effective value, in declaration order, and its output
// parses back to an equal Config.
//
// All errors name the key: an unknown key (with a did-you-mean), a value of
// the wrong type, a value out of range. Parse and Validate report every
// problem they find at once, joined with errors.Join. The package holds no
// mutable state.
package config
