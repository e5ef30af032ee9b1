// Package message scans raw Internet messages (RFC 5322, MIME RFC 2045 and
// 2046) once, at delivery, and records what IMAP needs later: the MIME tree
// with each part's byte offsets, the fields of BODYSTRUCTURE and the
// ENVELOPE (RFC 9051 7.5.2). The result is stored precomputed
// (Part.MarshalBinary) next to the message, so FETCH never reparses.
//
// Invariants:
//
//   - Scan never rejects mail. A bad or missing boundary, a missing close
//     delimiter, 8-bit or NUL bytes, LF-only line ends, a missing or truncated
//     header, an unknown charset or an absurdly long line all give a
//     best-effort structure. Scan returns an error only when the reader does.
//   - Offsets are exact. For every part, raw[HeaderStart:BodyStart] is its
//     header block including the blank line that ends it (BODY[n.MIME], or
//     BODY[HEADER] of a message) and raw[BodyStart:End] is its body as
//     BODY[n] (or BODY[TEXT]) returns it: the line break before a boundary
//     delimiter belongs to the delimiter (RFC 2046 5.1.1), not to the part,
//     unless malformed input gives that line break no other owner (it also
//     ends the part's header, or a nested delimiter line). Offsets are
//     monotonic, lie within the input, and children lie within their
//     parent's body; Lines agrees with the body's bytes.
//   - Memory is bounded. Scan streams the input through a fixed buffer and
//     keeps only the header fields it needs, at most Limits.MaxHeaderBytes of
//     each header block. The tree has at most Limits.MaxParts parts and at
//     most Limits.MaxDepth levels; beyond them the content stays in the body
//     of the innermost part the scanner still tracks, as opaque bytes.
//   - Header values are raw: encoded words (RFC 2047) stay encoded, as IMAP
//     requires. Only RFC 2231 parameter values are decoded, to UTF-8, as RFC
//     9051 7.5.2 asks of servers.
//
// Part numbers follow RFC 9051 6.4.5: see Part.Find.
package message
