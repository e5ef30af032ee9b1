// Package convert turns the parts of a message into plain text for the
// search index: decoded headers, text in any charset Go can decode, the
// visible text of HTML, and attachments (PDF through PDFium compiled to
// WebAssembly; OOXML: DOCX, XLSX, PPTX; ODF: ODT, ODS, ODP; RTF; nested
// messages, recursively). DESIGN.md section 4.
//
// Invariants:
//   - Conversion never fails a delivery: Convert always returns a Result.
//     A part that cannot be converted yields its file name and the error,
//     which the statistics count.
//   - Every input is bounded before it is read: the part's size
//     (MaxInput), the text kept (MaxOutput), the time (Timeout), nesting
//     (MaxDepth), the PDF engine's memory (MaxPDFMemory), and for zip
//     containers the number of entries, the bytes they inflate to and
//     their compression ratio (zip bombs).
//   - Extractors are pure functions of their input: no file system, no
//     network. PDFium runs in a wazero sandbox with nothing mounted, and is
//     killed when a part's time is up; a killed instance's memory stays
//     mapped until its code has stopped (pdfmem.go).
package convert
